"""Console progress for a local run: a line per component as it starts and ends, and per epoch.

TFX and Beam log a great deal; all of it goes to the run's log file. The console gets
only these lines, picked out of the log records TFX's local runner already writes.
Each component's line also gives its wall time and its peak memory: the resident memory
of the run's process (and of any Beam worker processes it starts) while the component ran,
sampled every RSS_SAMPLE_SECONDS and completed with the process's high-water mark when
the component raised it. Every local component runs in that one process, so a figure
also holds what earlier components left allocated: an upper bound of what the component
needs in a pod of its own (`visionpipe compile --memory-limit` sizes the Trainer's).
"""

from __future__ import annotations

import contextlib
import logging
import resource
import sys
import threading
import time
from collections.abc import Iterator

import psutil
from absl import logging as absl_logging

PROGRESS_LOGGER = "visionpipe.progress"
RSS_SAMPLE_SECONDS = 0.2


def resident_bytes() -> int:
    """The resident memory of this process and its child processes (Beam workers), in bytes."""
    process = psutil.Process()
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # it ended between the listing and the reading
            total += child.memory_info().rss
    return total


def _high_water_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


class ComponentProgress(logging.Handler):
    """Turns the local runner's 'Component X is running/finished' records into timed lines."""

    def __init__(self, stream=None):
        super().__init__(level=logging.INFO)
        self.stream = stream or sys.stdout
        self.seconds: dict[str, float] = {}
        self.peak_bytes: dict[str, int] = {}
        self.cached: set[str] = set()
        self._started: dict[str, float] = {}
        self._high_water_at_start = 0
        self._current: str | None = None

    def sample_memory(self) -> None:
        """Counts the resident memory now against the component running now, if any."""
        name = self._current
        if name is not None:
            self.peak_bytes[name] = max(self.peak_bytes.get(name, 0), resident_bytes())

    @property
    def peak_mb(self) -> dict[str, int]:
        """Each finished component's peak memory, in MB (10**6 bytes)."""
        return {name: round(peak / 1e6) for name, peak in self.peak_bytes.items()}

    def emit(self, record: logging.LogRecord) -> None:
        message, args = record.msg, record.args or ()
        if record.name == PROGRESS_LOGGER:
            self._print(f"    {record.getMessage()}")
        elif message == "Component %s is running." and args:
            self._current = str(args[0])
            self._started[self._current] = time.monotonic()
            self._high_water_at_start = _high_water_bytes()
            self.sample_memory()
            self._print(f"▶ {self._current}")
        elif message == "A cached execution %d is used." and self._current:
            self.cached.add(self._current)
        elif message == "Component %s is finished." and args:
            name = str(args[0])
            elapsed = time.monotonic() - self._started.get(name, time.monotonic())
            self.seconds[name] = round(elapsed, 1)
            self.sample_memory()
            high_water = _high_water_bytes()
            if high_water > self._high_water_at_start:  # this component set the process's peak
                self.peak_bytes[name] = max(self.peak_bytes.get(name, 0), high_water)
            note = ("cached" if name in self.cached
                    else f"{elapsed:.1f} s, peak {self.peak_bytes.get(name, 0) / 1e9:.1f} GB")
            self._print(f"✓ {name} ({note})")
            self._current = None

    @property
    def failed_component(self) -> str | None:
        """The component that started and did not finish, if any."""
        return self._current

    def _print(self, line: str) -> None:
        print(f"[visionpipe] {line}", file=self.stream, flush=True)


def _sample_until(progress: ComponentProgress, stop: threading.Event) -> None:
    while not stop.wait(RSS_SAMPLE_SECONDS):
        progress.sample_memory()


@contextlib.contextmanager
def console_progress(log_file: str) -> Iterator[ComponentProgress]:
    """Sends every log record to log_file and the progress lines to the console, and samples
    each component's memory while it runs."""
    root = logging.getLogger()
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    progress = ComponentProgress()
    previous_level = root.level
    previous_absl = absl_logging.get_verbosity()
    # Libraries install console handlers of their own (logging.basicConfig): set them
    # aside for the run so the console shows progress only, and put them back after.
    set_aside = [(logger, handler) for logger in (root, logging.getLogger("tensorflow"))
                 for handler in list(logger.handlers)]
    for logger, handler in set_aside:
        logger.removeHandler(handler)
    root.setLevel(logging.INFO)
    absl_logging.set_verbosity(absl_logging.INFO)
    root.addHandler(file_handler)
    root.addHandler(progress)
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_until, args=(progress, stop), daemon=True,
                               name="visionpipe-memory-sampler")
    sampler.start()
    try:
        yield progress
    finally:
        stop.set()
        sampler.join()
        root.removeHandler(progress)
        root.removeHandler(file_handler)
        for logger, handler in set_aside:
            logger.addHandler(handler)
        file_handler.close()
        root.setLevel(previous_level)
        absl_logging.set_verbosity(previous_absl)
