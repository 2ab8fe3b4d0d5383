"""When training ends and why: early stopping decides, the epoch cap only bounds it; the
default recipe's warm-up; and the line that says which of the two ended each phase.

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


class Warmup(keras.callbacks.Callback):
    """The learning rate raised linearly from a tenth to its value over the first `epochs`
    epochs, batch by batch (epoch by epoch when the epoch's length is unknown).

    Why: at Adam's 1e-3 from a random start, the first large gradients can kill ReLUs and
    stall a CNN near chance for epochs (multiclass on caltech101_18 did; BENCHMARKS.md,
    "Training to convergence"); after the warm-up the plateau schedule takes over.
    """

    START = 0.1  # the first step's rate, as a fraction of the recipe's

    def __init__(self, epochs: float):
        super().__init__()
        self._epochs = epochs
        self._target = 0.0
        self._steps = 0
        self._step = 0

    def on_train_begin(self, logs=None):
        self._target = float(keras.backend.get_value(self.model.optimizer.learning_rate))
        per_epoch = self.params.get("steps") or 0
        self._steps = round(self._epochs * per_epoch)

    def _set(self, fraction: float) -> None:
        rate = self._target * (self.START + (1 - self.START) * min(1.0, fraction))
        keras.backend.set_value(self.model.optimizer.learning_rate, rate)

    def on_train_batch_begin(self, batch, logs=None):
        if self._steps and self._step <= self._steps:
            self._set(self._step / self._steps)
            self._step += 1

    def on_epoch_begin(self, epoch, logs=None):
        # Epoch by epoch, the last set rate stays: so the first epoch at or past the warm-up
        # sets the full rate. A warm-up shorter than one epoch has no epoch to happen in.
        if not self._steps and self._epochs >= 1 and (epoch - 1) < self._epochs:
            self._set(epoch / self._epochs)


class PlateauAfterWarmup(keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau that starts counting when the warm-up has ended: a validation loss
    that does not improve while the rate is still rising is no plateau (multiclass on
    caltech101_3 had its rate cut the epoch the warm-up ended, and stalled)."""

    def __init__(self, warmup_epochs: int, **kwargs):
        super().__init__(**kwargs)
        self._warmup_epochs = warmup_epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 > self._warmup_epochs:
            super().on_epoch_end(epoch, logs)
        else:  # the lr in the logs, as the parent would add it
            (logs if logs is not None else {})["lr"] = keras.backend.get_value(
                self.model.optimizer.lr)


# The warm-up's share of a phase's cap at most: a short run (--epochs 3) still trains at the
# recipe's rate for most of its epochs.
WARMUP_SHARE_OF_CAP = 0.1


def warmup_epochs(recipe_warmup: float, cap: int) -> float:
    """The recipe's warm-up, bounded by WARMUP_SHARE_OF_CAP of the phase's epoch cap."""
    return min(recipe_warmup, WARMUP_SHARE_OF_CAP * cap)


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
