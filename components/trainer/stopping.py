"""When training ends and why: early stopping decides, the epoch cap only bounds it; and
the line that says which of the two ended each phase (the rate's schedule: schedules.py).

Each fit (a phase) gets an EarlyStopping (best weights restored) and a StopRecorder that,
when the fit ends, records a Stop: early stopping, or the cap; the best epoch (by
validation loss) of how many run; and whether validation loss was still falling at the
cap (its best epoch the last one), which is worth a larger cap.
"""

from __future__ import annotations

import dataclasses

import tf_keras as keras

EARLY_STOPPING, EPOCH_CAP = "early_stopping", "epoch_cap"


@dataclasses.dataclass(frozen=True)
class Stop:
    """How one phase ended; epochs are counted from 1, across phases."""

    phase: str  # "" (one phase), "head ", "fine-tune "
    stopped_by: str  # EARLY_STOPPING or EPOCH_CAP
    best_epoch: int
    epochs_run: int  # the last epoch this phase ran (so across phases, the epochs so far)
    patience: int
    cap_flag: str  # the flag that sets this phase's cap

    @property
    def still_falling(self) -> bool:
        return self.stopped_by == EPOCH_CAP and self.best_epoch == self.epochs_run

    def line(self) -> str:
        """`stopped: ...` as the run prints it."""
        where = f"{self.phase.strip()} " if self.phase else ""
        if self.stopped_by == EARLY_STOPPING:
            return (f"{where}stopped: no better validation loss for {self.patience} epochs; "
                    f"best epoch {self.best_epoch} of {self.epochs_run}")
        if self.still_falling:
            return (f"{where}stopped: the {self.cap_flag} {self.epochs_run} cap, while "
                    f"validation loss was still falling: try a larger {self.cap_flag}")
        return (f"{where}stopped: the {self.cap_flag} {self.epochs_run} cap; best epoch "
                f"{self.best_epoch} (validation loss no better since, for fewer than "
                f"{self.patience} epochs)")

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "still_falling": self.still_falling,
                "line": self.line()}


class StopRecorder(keras.callbacks.Callback):
    """Appends the phase's Stop to stops when its fit ends (reads its EarlyStopping)."""

    def __init__(self, early: keras.callbacks.EarlyStopping, stops: list[Stop], phase: str,
                 cap_flag: str):
        super().__init__()
        self._early, self._stops, self._phase, self._cap_flag = early, stops, phase, cap_flag
        self._last_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch + 1

    def on_train_end(self, logs=None):
        early = self._early
        stopped = EARLY_STOPPING if early.stopped_epoch > 0 else EPOCH_CAP
        best = early.best_epoch + 1 if self._last_epoch else 0
        self._stops.append(Stop(self._phase, stopped, best, self._last_epoch, early.patience,
                                self._cap_flag))


def main_stop(stops: list[Stop], kept_phase: str | None = None) -> Stop | None:
    """The Stop that speaks for the run: the phase whose weights were kept (the last one,
    unless kept_phase names another)."""
    if not stops:
        return None
    if kept_phase is not None:
        for stop in stops:
            if stop.phase == kept_phase:
                return stop
    return stops[-1]
