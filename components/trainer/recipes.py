"""Training recipes: the course's exact one, and the default that converges on real photos.

A recipe fills every hyper-parameter the user left unset (None in TrainingConfig):
optimizer, learning rate, early-stopping patience, the learning-rate schedule, how far
augmentation moves an image and how transfer learning is phased. Their measured effect,
side by side per module and one change at a time: BENCHMARKS.md ("Recipes");
docs/training.md says when to use which.

- course: RMSprop at the module's course rate (1e-3; 1e-4 for augmented and transfer),
  patience 3, constant rate, at most 15 epochs, the course's augmentation ranges, transfer
  in one phase with the frozen base run on every image every epoch (the notebooks' way).
- default: trains to convergence: early stopping decides, the cap (DEFAULT_EPOCH_CAP) only bounds
  it. Adam at 1e-3 (the scratch CNN at 5e-4, SCRATCH_RATE), reached by a linear warm-up over
  2 epochs (from a random start the first large gradients stalled a CNN for epochs), the rate
  cut by 5x when validation loss stalls for 3 epochs, patience 10 (an augmented epoch's
  validation loss is noisier than 3 epochs can tell, and the rate is cut twice before
  training stops; a validation loss better by 0.001 at least, as at the rate's floor it
  creeps down by crumbs for a hundred epochs; the plateau counted from the end of the
  warm-up), augmentation at half the course's rotation, shifts and zoom
  (GENTLE_RANGES), and transfer in two phases when the base has pretrained weights:
  the head on the frozen base's features computed once ("bottleneck features") until
  validation stops improving (its own cap, head_epochs: an epoch on features costs little,
  and capped at --epochs the head ended short of a logistic regression on the same
  features), then the top fifth of the base unfrozen at 1e-5 until validation stops
  improving, at most 30 epochs (on the activations below it, computed once, when nothing is
  augmented), keeping the better phase by validation accuracy.
"""

from __future__ import annotations

import dataclasses

COURSE, DEFAULT = "course", "default"
# The learning rate after the warm-up (schedules.py builds them; named here, where no
# TensorFlow is imported, for the command line's choices).
CONSTANT, PLATEAU, COSINE = "constant", "plateau", "cosine"
SCHEDULES = (CONSTANT, PLATEAU, COSINE)
PLATEAU_FACTOR = 0.2  # plateau: the rate multiplied by this when validation loss stalls
PLATEAU_PATIENCE = 3  # for this many epochs
MIN_RATE = 1e-6  # the floor both decaying schedules stop at

# The default's cap, well above where its modules stopped on real photos (early stopping
# decides: BENCHMARKS.md, "Training to convergence"): a bound for a run that never settles.
DEFAULT_EPOCH_CAP = 100
# The default's rate for the scratch CNN, half the others': with neither dropout nor
# augmentation it overfits within about five epochs at 1e-3, and the best validation loss
# was a noisy dip at the full rate; at half the rate it comes later and steadier (on
# caltech101_18, three seeds: BENCHMARKS.md, "Training to convergence").
SCRATCH_RATE = 5e-4


@dataclasses.dataclass(frozen=True)
class AugmentationRanges:
    """How far a recipe's random augmentation moves a training image, with the course's
    ImageDataGenerator meanings (hparams.Augmentation, whose unset ranges these fill)."""

    rotation: float  # degrees, +/-
    width_shift: float  # fraction of the width, +/-
    height_shift: float  # fraction of the height, +/-
    shear: float  # degrees, as in Keras
    zoom: float  # +/- range


# The course's week-2 ImageDataGenerator.
COURSE_RANGES = AugmentationRanges(rotation=40, width_shift=0.2, height_shift=0.2, shear=0.2,
                                   zoom=0.2)
# The default's: half the course's rotation, shifts and zoom. At the course's ranges both
# augmented CNNs still underfit when they stopped (training accuracy about 0.70 on the
# augmented images of caltech101_18); at half they fitted them to 0.82-0.86 and reached
# 0.729 (augmented, two seeds) and 0.718 (multiclass) on the test photos against 0.656 and
# 0.556 (BENCHMARKS.md, "Training to convergence").
GENTLE_RANGES = AugmentationRanges(rotation=20, width_shift=0.1, height_shift=0.1, shear=0.2,
                                   zoom=0.1)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What a recipe sets when the user did not."""

    optimizer: str
    learning_rate: float | None  # None: the trainer module's course rate
    patience: int
    schedule: str  # the rate after the warm-up (schedules.py): constant, plateau or cosine
    fine_tune_layers: float  # for a pretrained base: top N layers (or a fraction) unfrozen
    fine_tune_epochs: int
    bottleneck: bool  # phase one on the frozen base's features, computed once
    head_epochs: int | None  # phase one's cap on those features; None: --epochs
    epochs: int  # the cap when --epochs is not given
    warmup_epochs: float  # the learning rate's linear warm-up (schedules.Warmup); 0: none
    # A validation loss lower by at most this is no better (early stopping): at the rate's
    # floor, or on frozen features, it creeps down by crumbs for a hundred epochs.
    min_delta: float
    augmentation: AugmentationRanges  # for the modules that augment (hparams.Augmentation)
    # (module, rate) pairs where a module's rate differs from learning_rate.
    module_learning_rates: tuple[tuple[str, float], ...] = ()

    def learning_rate_for(self, module: str) -> float | None:
        """The rate this recipe trains module at; None: the module's course rate."""
        return dict(self.module_learning_rates).get(module, self.learning_rate)


RECIPES: dict[str, Recipe] = {
    COURSE: Recipe(optimizer="rmsprop", learning_rate=None, patience=3, schedule=CONSTANT,
                   fine_tune_layers=0, fine_tune_epochs=0, bottleneck=False,
                   head_epochs=None, epochs=15, warmup_epochs=0,
                   min_delta=0.0, augmentation=COURSE_RANGES),
    DEFAULT: Recipe(optimizer="adam", learning_rate=1e-3, patience=10, schedule=PLATEAU,
                    fine_tune_layers=0.2, fine_tune_epochs=30,
                    bottleneck=True, head_epochs=100, epochs=DEFAULT_EPOCH_CAP, warmup_epochs=2,
                    min_delta=1e-3, augmentation=GENTLE_RANGES,
                    module_learning_rates=(("scratch", SCRATCH_RATE),)),
}


def recipe(name: str) -> Recipe:
    """The recipe called name; a clear error listing the choices otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]
