"""Server-side batching, as TF Serving's `--enable_batching`: concurrent requests share one call.

Requests for the same version and signature wait up to `batch_timeout_micros` for
others; their inputs are concatenated along the batch dimension (at most
`max_batch_size` rows), the signature runs once, and each request gets its own rows
back. Written by hand: TF Serving's batcher is C++ inside the model server.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

import numpy as np

from serving.inference import ServingError, run_signature
from serving.model_store import LoadedVersion


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
        future: Future = Future()
        self._queue.put(((loaded.version, id(loaded), signature_name or "", tuple(sorted(arrays))),
                         loaded, signature_name, arrays, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            batch, size = [first], len(next(iter(first[3].values())))
            pending = []
            try:
                while size < self.max_batch_size:
                    item = self._queue.get(timeout=self.timeout)
                    rows = len(next(iter(item[3].values())))
                    if item[0] == first[0] and size + rows <= self.max_batch_size:
                        batch.append(item)
                        size += rows
                    else:
                        pending.append(item)
                        break
            except queue.Empty:
                pass
            self._run(batch)
            for item in pending:
                self._queue.put(item)

    @staticmethod
    def _run(batch: list) -> None:
        _, loaded, signature_name, _, _ = batch[0]
        names = sorted(batch[0][3])
        sizes = [len(item[3][names[0]]) for item in batch]
        try:
            merged = {n: np.concatenate([item[3][n] for item in batch]) for n in names}
            outputs = run_signature(loaded, signature_name, merged)
        except ServingError:
            # One bad request must not fail the others: run them one by one.
            for _, loaded_one, name, arrays, future in batch:
                try:
                    future.set_result(run_signature(loaded_one, name, arrays))
                except Exception as error:  # noqa: BLE001 - handed to the waiting request
                    future.set_exception(error)
            return
        except Exception as error:  # noqa: BLE001 - handed to every waiting request
            for item in batch:
                item[4].set_exception(error)
            return
        start = 0
        for item, rows in zip(batch, sizes, strict=True):
            item[4].set_result({k: v[start:start + rows] for k, v in outputs.items()})
            start += rows


def _as_array(value) -> np.ndarray:
    """A batch as an array; bytes as objects (numpy's fixed-width bytes drop trailing NULs)."""
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return np.array(value, dtype=object)
    return np.asarray(value)
