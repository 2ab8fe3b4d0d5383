"""Console progress for a local run: a line per component as it starts and ends, and per epoch.

TFX and Beam log a great deal; all of it goes to the run's log file. The console gets
only these lines, picked out of the log records TFX's local runner already writes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from absl import logging as absl_logging

PROGRESS_LOGGER = "visionpipe.progress"


class ComponentProgress(logging.Handler):
    """Turns the local runner's 'Component X is running/finished' records into timed lines."""

    def __init__(self, stream=None):
        super().__init__(level=logging.INFO)
        self.stream = stream or sys.stdout
        self.seconds: dict[str, float] = {}
        self.cached: set[str] = set()
        self._started: dict[str, float] = {}
        self._current: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message, args = record.msg, record.args or ()
        if record.name == PROGRESS_LOGGER:
            self._print(f"    {record.getMessage()}")
        elif message == "Component %s is running." and args:
            self._current = str(args[0])
            self._started[self._current] = time.monotonic()
            self._print(f"▶ {self._current}")
        elif message == "A cached execution %d is used." and self._current:
            self.cached.add(self._current)
        elif message == "Component %s is finished." and args:
            name = str(args[0])
            elapsed = time.monotonic() - self._started.get(name, time.monotonic())
            self.seconds[name] = round(elapsed, 1)
            note = "cached" if name in self.cached else f"{elapsed:.1f} s"
            self._print(f"✓ {name} ({note})")
            self._current = None

    @property
    def failed_component(self) -> str | None:
        """The component that started and did not finish, if any."""
        return self._current

    def _print(self, line: str) -> None:
        print(f"[visionpipe] {line}", file=self.stream, flush=True)


@contextmanager
def console_progress(log_file: str) -> Iterator[ComponentProgress]:
    """Sends every log record to log_file and the progress lines to the console."""
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
    try:
        yield progress
    finally:
        root.removeHandler(progress)
        root.removeHandler(file_handler)
        for logger, handler in set_aside:
            logger.addHandler(handler)
        file_handler.close()
        root.setLevel(previous_level)
        absl_logging.set_verbosity(previous_absl)
