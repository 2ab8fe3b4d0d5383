"""The served versions of one model: loaded from a TF Serving model base path, kept up to date.

Like TF Serving's default "latest" version policy: the highest numeric version
directory is served. A watcher thread polls the base path; a new version is loaded
first and then swapped in, so requests never wait and never see a half-loaded model.
A version directory counts as complete only when it has `saved_model.pb` and a
variables index and its contents did not change between two polls (the Pusher may
still be copying); a version that fails to load is reported and skipped, and the
one being served stays.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time

import tensorflow as tf

from components.common import features
from components.common.served_versions import is_complete, version_dirs

log = logging.getLogger("visionpipe.serving")


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
    """A loaded SavedModel and the facts the APIs report about it."""

    version: int
    path: str
    model: object  # the tf.saved_model.load() result
    signatures: dict


def _fingerprint(path: str) -> tuple | None:
    """(file, size, mtime) of every file below path, or None when it is not a complete SavedModel."""
    if not is_complete(path):
        return None
    entries = []
    for directory, _, files in os.walk(path):
        for name in files:
            stat = os.stat(os.path.join(directory, name))
            entries.append((os.path.join(directory, name), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


def warm_up(model, version_dir: str) -> int:
    """Replays the version's warmup requests (as TF Serving does) before it is served."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(version_dir, features.WARMUP_FILE)
    if not os.path.isfile(path):
        return 0
    count = 0
    for record in tf.data.TFRecordDataset(path):
        log_entry = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log_entry.predict_log.request
        function = model.signatures[request.model_spec.signature_name or features.SERVING_SIGNATURE]
        function(**{name: tf.make_ndarray(proto) for name, proto in request.inputs.items()})
        count += 1
    return count


class ModelStore:
    """Loads and serves the latest complete version below base_path; thread-safe."""

    def __init__(self, name: str, base_path: str, poll_seconds: float = 1.0):
        self.name = name
        self.base_path = base_path
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._versions: dict[int, LoadedVersion] = {}
        self._failed: dict[int, tuple] = {}  # version -> fingerprint that failed to load
        self._seen: dict[int, tuple] = {}  # version -> fingerprint at the last poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- queries -------------------------------------------------------------------
    def latest(self) -> LoadedVersion | None:
        with self._lock:
            return self._versions[max(self._versions)] if self._versions else None

    def get(self, version: int | None = None) -> LoadedVersion | None:
        """The given version if it is loaded, else None; the latest when version is None."""
        if version is None:
            return self.latest()
        with self._lock:
            return self._versions.get(version)

    def loaded_versions(self) -> list[int]:
        with self._lock:
            return sorted(self._versions)

    # ---- loading -------------------------------------------------------------------
    def refresh(self) -> None:
        """One poll: load a newer complete version and unload the ones it replaces."""
        found = version_dirs(self.base_path)
        current = self.loaded_versions()
        newest_loaded = max(current) if current else -1
        for version in sorted(found, reverse=True):
            if version <= newest_loaded:
                break
            fingerprint = _fingerprint(found[version])
            stable = fingerprint is not None and self._seen.get(version) == fingerprint
            self._seen[version] = fingerprint
            if not stable or self._failed.get(version) == fingerprint:
                continue  # still being written (or already failed as it is): look again later
            try:
                model = tf.saved_model.load(found[version])
                warm_up(model, found[version])
            except Exception as error:  # noqa: BLE001 - a bad version must not stop serving
                self._failed[version] = fingerprint
                log.error("model %s version %d failed to load: %s", self.name, version, error)
                continue
            loaded = LoadedVersion(version, found[version], model, dict(model.signatures))
            with self._lock:
                # Requests in flight hold their own reference to the old version, so
                # dropping it here unloads it only after they finish.
                self._versions = {version: loaded}
            log.info("model %s: serving version %d", self.name, version)
            break
        with self._lock:
            gone = [v for v in self._versions if v not in found]
            for version in gone:  # deleted from disk: stop serving it
                del self._versions[version]

    def wait_until_loaded(self, timeout: float = 60.0) -> LoadedVersion:
        """Polls until a version is served; TimeoutError naming the base path otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.refresh()
            if self.latest() is not None:
                return self.latest()
            time.sleep(min(0.2, self._poll_seconds))
        raise TimeoutError(f"no complete SavedModel version below {self.base_path} after {timeout} s")

    def start(self) -> None:
        """Starts the watcher thread."""
        def watch() -> None:
            while not self._stop.wait(self._poll_seconds):
                try:
                    self.refresh()
                except Exception as error:  # noqa: BLE001 - keep watching
                    log.error("watching %s: %s", self.base_path, error)

        self._thread = threading.Thread(target=watch, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
