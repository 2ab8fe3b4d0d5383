"""Server-side batching, as TF Serving's `--enable_batching`: concurrent requests share one call.

Requests for the same version and signature wait up to `batch_timeout_micros` for
others; their inputs are concatenated along the batch dimension (at most
`max_batch_size` rows), the signature runs once, and each request gets its own rows
back. Written by hand: TF Serving's batcher is C++ inside the model server.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from concurrent.futures import Future

import numpy as np

from serving.inference import ServingError, run_signature
from serving.model_store import LoadedVersion


@dataclasses.dataclass
class _Request:
    key: tuple  # requests with equal keys can share one call
    loaded: LoadedVersion
    signature_name: str | None
    arrays: dict[str, np.ndarray]
    future: Future

    @property
    def rows(self) -> int:
        return len(next(iter(self.arrays.values())))


class Batcher:
    """Collects run_signature calls into batches on one worker thread per batcher."""

    def __init__(self, max_batch_size: int = 32, batch_timeout_micros: int = 2000):
        self.max_batch_size = max_batch_size
        self.timeout = batch_timeout_micros / 1e6
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
        self._thread.start()

    def run(self, loaded: LoadedVersion, signature_name: str | None,
            inputs: dict[str, object]) -> dict[str, np.ndarray]:
        """Same contract as inference.run_signature; may share the call with other requests."""
        arrays = {name: _as_array(value) for name, value in inputs.items()}
        rows = {len(a) if a.ndim else 0 for a in arrays.values()}
        if len(rows) != 1 or 0 in rows or next(iter(rows)) >= self.max_batch_size:
            return run_signature(loaded, signature_name, inputs)  # odd or big: on its own
        request = _Request(
            key=(loaded.version, id(loaded), signature_name or "", tuple(sorted(arrays))),
            loaded=loaded, signature_name=signature_name, arrays=arrays, future=Future())
        self._queue.put(request)
        return request.future.result()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            batch, size = [first], first.rows
            pending = []
            try:
                while size < self.max_batch_size:
                    request = self._queue.get(timeout=self.timeout)
                    if request.key == first.key and size + request.rows <= self.max_batch_size:
                        batch.append(request)
                        size += request.rows
                    else:
                        pending.append(request)
                        break
            except queue.Empty:
                pass
            self._run(batch)
            for request in pending:
                self._queue.put(request)

    @staticmethod
    def _run(batch: list[_Request]) -> None:
        first = batch[0]
        try:
            merged = {name: np.concatenate([request.arrays[name] for request in batch])
                      for name in first.arrays}
            outputs = run_signature(first.loaded, first.signature_name, merged)
        except ServingError:
            # One bad request must not fail the others: run them one by one.
            for request in batch:
                try:
                    request.future.set_result(
                        run_signature(request.loaded, request.signature_name, request.arrays))
                except Exception as error:  # noqa: BLE001 - handed to the waiting request
                    request.future.set_exception(error)
            return
        except Exception as error:  # noqa: BLE001 - handed to every waiting request
            for request in batch:
                request.future.set_exception(error)
            return
        start = 0
        for request in batch:
            request.future.set_result(
                {key: value[start:start + request.rows] for key, value in outputs.items()})
            start += request.rows


def _as_array(value) -> np.ndarray:
    """A batch as an array; bytes as objects (numpy's fixed-width bytes drop trailing NULs)."""
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return np.array(value, dtype=object)
    return np.asarray(value)
