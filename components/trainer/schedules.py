"""The learning rate over a phase: the recipe's linear warm-up, then a schedule.

- constant: the rate stays (the course notebooks');
- plateau: the rate multiplied by PLATEAU_FACTOR when validation loss has not improved for
  PLATEAU_PATIENCE epochs, counted from the warm-up's end (the default recipe's: it adapts
  to the run's length, which early stopping decides);
- cosine: half a cosine from the rate to MIN_RATE, from the warm-up's end to the phase's
  epoch cap (it needs a horizon known in advance: the cap; early stopping may end the run
  before the rate has come down).

What each measured on real photos: BENCHMARKS.md, "Training to convergence" and "The
schedule after the warm-up".
"""

from __future__ import annotations

import math

import tf_keras as keras

from components.trainer.recipes import (
    COSINE,
    MIN_RATE,
    PLATEAU,
    PLATEAU_FACTOR,
    PLATEAU_PATIENCE,
    SCHEDULES,
)

# The warm-up's share of a phase's cap at most: a short run (--epochs 3) still trains at the
# recipe's rate for most of its epochs.
WARMUP_SHARE_OF_CAP = 0.1


def warmup_epochs(recipe_warmup: float, cap: int) -> float:
    """The recipe's warm-up, bounded by WARMUP_SHARE_OF_CAP of the phase's epoch cap."""
    return min(recipe_warmup, WARMUP_SHARE_OF_CAP * cap)


def _rate(model: keras.Model) -> float:
    return float(keras.backend.get_value(model.optimizer.learning_rate))


def _set_rate(model: keras.Model, rate: float) -> None:
    keras.backend.set_value(model.optimizer.learning_rate, rate)


class Warmup(keras.callbacks.Callback):
    """The learning rate raised linearly from a tenth to its value over the first `epochs`
    epochs, batch by batch (epoch by epoch when the epoch's length is unknown).

    Why: at Adam's 1e-3 from a random start, the first large gradients can kill ReLUs and
    stall a CNN near chance for epochs (multiclass on caltech101_18 did; BENCHMARKS.md,
    "Training to convergence"); after the warm-up the schedule takes over.
    """

    START = 0.1  # the first step's rate, as a fraction of the recipe's

    def __init__(self, epochs: float):
        super().__init__()
        self._epochs = epochs
        self._target = 0.0
        self._steps = 0
        self._step = 0

    def on_train_begin(self, logs=None):
        self._target = _rate(self.model)
        per_epoch = self.params.get("steps") or 0
        self._steps = round(self._epochs * per_epoch)

    def _set(self, fraction: float) -> None:
        _set_rate(self.model, self._target * (self.START + (1 - self.START) * min(1.0, fraction)))

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
            (logs if logs is not None else {})["lr"] = _rate(self.model)


class CosineAfterWarmup(keras.callbacks.Callback):
    """From the warm-up's end to the phase's last epoch (end_epoch, exclusive, as fit's
    epochs), the rate follows half a cosine from its value to MIN_RATE, set at each epoch's
    start (a phase may begin at a later epoch: fine-tuning's)."""

    def __init__(self, warmup_epochs: int, end_epoch: int):
        super().__init__()
        self._warmup_epochs = warmup_epochs
        self._end_epoch = end_epoch
        self._target = 0.0
        self._first_epoch: int | None = None

    def on_train_begin(self, logs=None):
        self._target = _rate(self.model)
        self._first_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch is None:
            self._first_epoch = epoch
        start = self._first_epoch + self._warmup_epochs
        if epoch < start:
            return
        fraction = (epoch - start) / max(1, self._end_epoch - start)
        _set_rate(self.model, MIN_RATE + (self._target - MIN_RATE) * 0.5 * (
            1 + math.cos(math.pi * min(1.0, fraction))))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = _rate(self.model)


def schedule_callbacks(schedule: str, recipe_warmup: float, start_epoch: int, end_epoch: int
                       ) -> list[keras.callbacks.Callback]:
    """The callbacks that move the rate over a phase from start_epoch to end_epoch: the
    warm-up (recipe_warmup epochs, bounded by the phase's length; 0: none), then schedule."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {list(SCHEDULES)}")
    warmup = warmup_epochs(recipe_warmup, end_epoch - start_epoch)
    found: list[keras.callbacks.Callback] = [Warmup(warmup)] if warmup else []
    if schedule == PLATEAU:
        found.append(PlateauAfterWarmup(
            start_epoch + math.ceil(warmup), monitor="val_loss", factor=PLATEAU_FACTOR,
            patience=PLATEAU_PATIENCE, min_lr=MIN_RATE, verbose=0))
    elif schedule == COSINE:
        found.append(CosineAfterWarmup(math.ceil(warmup), end_epoch))
    return found
