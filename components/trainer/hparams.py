"""Training hyper-parameters as they travel in the Trainer's custom_config.

Each field with a flag is also a `visionpipe run` option (components/common/settings.py).
None means "the trainer module's own value" (its course setting); run_fn resolves those
once, with models.resolve_defaults, before anything is built.
"""

from __future__ import annotations

import argparse
import dataclasses
import operator
from typing import Any

from components.common import class_balance
from components.common.settings import from_dict, setting
from components.trainer import catalog
from components.trainer.cache_memory import parse_size
from components.trainer.recipes import (
    COURSE,
    DEFAULT,
    MIN_RATE,
    PLATEAU_FACTOR,
    PLATEAU_PATIENCE,
    RECIPES,
    SCHEDULES,
    AugmentationRanges,
)

TUNERS = ("random", "bayesian")  # `--tune` choices: KerasTuner's random search or Bayesian
TUNED_BY_SEARCH = ("learning_rate", "dropout", "batch_size")  # what the Tuner may set (see tuning.py)
TRAINING, AUGMENTATION, TRANSFER = "training", "augmentation (training images only, fresh every " \
    "epoch)", "transfer learning (--model transfer)"
# The base's own settings: what --model transfer trains on, and the space the data review
# (label issues, outliers, near-copies) looks in.
PRETRAINED = "pretrained base (--model transfer, and the data review's features)"
INPUT = "training input (the decoded pixels, cached once per run)"
_BOOL = argparse.BooleanOptionalAction


def _by_recipe(text: str, attribute: str, unset: str = "none") -> str:
    """Help text ending in what each recipe sets for attribute (read from RECIPES); unset
    names what a recipe's None means."""
    values = ", ".join(
        f"{name} {unset if (value := operator.attrgetter(attribute)(found)) is None else value}"
        for name, found in RECIPES.items())
    return f"{text} (default: the recipe's: {values})"


# What the Trainer's optimizer lookup knows (tf-keras's legacy optimizers, _check_optimizer).
OPTIMIZERS = ("adam", "rmsprop", "sgd", "nadam", "adamax", "adagrad", "adadelta", "ftrl")


def _check_optimizer(name: str) -> None:
    """A clear error now for a name the Trainer's optimizer lookup would reject mid-run.

    The Trainer builds the optimizer from a config with a learning rate, for which tf-keras
    looks the name up among its legacy optimizers (OPTIMIZERS): so `adamw` is unknown there
    although tf-keras has an AdamW.
    """
    import tf_keras as keras  # here: settings are read where TensorFlow is not yet imported

    try:
        keras.optimizers.get({"class_name": name, "config": {"learning_rate": 1e-3}})
    except ValueError:
        raise ValueError(f"--optimizer {name!r}: not one of tf-keras's optimizers "
                         f"({', '.join(OPTIMIZERS)})") from None


def _range(flag: str, text: str, attribute: str) -> Any:
    """An augmentation range: unset (None), the recipe's (recipes.AugmentationRanges)."""
    return setting(None, flag, lambda: _by_recipe(text, f"augmentation.{attribute}"),
                   group=AUGMENTATION, type=float)


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Random augmentation of training images, with the course's ImageDataGenerator meanings.

    Angles are in degrees (as in Keras: shear 0.2 is 0.2 degrees), shifts a fraction of the
    side, zoom a +/- range. The geometric ranges left unset (None) are the recipe's
    (resolved_by); the flips and the colour changes are the course's for every recipe.
    """

    rotation: float | None = _range("--rotation", "degrees, +/-", "rotation")
    width_shift: float | None = _range("--width-shift", "fraction of the width, +/-",
                                       "width_shift")
    height_shift: float | None = _range("--height-shift", "fraction of the height, +/-",
                                        "height_shift")
    shear: float | None = _range("--shear", "degrees, as in Keras", "shear")
    zoom: float | None = _range("--zoom", "+/- range", "zoom")
    horizontal_flip: bool = setting(True, "--horizontal-flip", "random left-right flips",
                                    group=AUGMENTATION, action=_BOOL)
    vertical_flip: bool = setting(False, "--vertical-flip", "random up-down flips",
                                  group=AUGMENTATION, action=_BOOL)
    brightness: float = setting(0.0, "--brightness", "multiply by U(1-b, 1+b)",
                                group=AUGMENTATION, type=float)
    contrast: float = setting(0.0, "--contrast", "scale around the image mean by U(1-c, 1+c)",
                              group=AUGMENTATION, type=float)

    def resolved_by(self, ranges: AugmentationRanges) -> Augmentation:
        """These settings with every unset range taken from ranges (a recipe's)."""
        return dataclasses.replace(self, **{
            name: value for name, value in dataclasses.asdict(ranges).items()
            if getattr(self, name) is None})

    def is_resolved(self) -> bool:
        """Whether every range is set (augment_batch needs them)."""
        return None not in (getattr(self, field.name)
                            for field in dataclasses.fields(AugmentationRanges))


# The course's week-2 augmentation, whatever the recipe (benchmarks against Keras's
# ImageDataGenerator, tests).
COURSE_AUGMENTATION = Augmentation().resolved_by(RECIPES[COURSE].augmentation)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """What run_fn needs besides the data and the image size: the model and its hyper-parameters."""

    model: str = setting(catalog.DEFAULT_MODULE, "--model", "trainer module: " + "; ".join(
        f"{name}: {text}" for name, text in catalog.MODULES.items()),
        group=TRAINING, choices=tuple(catalog.MODULES))
    epochs: int | None = setting(
        None, "--epochs", lambda: _by_recipe("at most this many epochs: an upper bound, early "
                                             "stopping decides", "epochs"),
        group=TRAINING, type=int)
    batch_size: int = setting(32, "--batch-size", group=TRAINING, type=int)
    recipe: str = setting(
        DEFAULT, "--recipe", f"{DEFAULT}: converges on real photos (Adam, rate cut on plateau, "
        f"longer patience, two-phase transfer); {COURSE}: the course notebooks' exact settings "
        "(components/trainer/recipes.py)", group=TRAINING, choices=lambda: sorted(RECIPES))
    learning_rate: float | None = setting(
        None, "--learning-rate", "default: the recipe's (course: the module's course rate, "
        "1e-3, or 1e-4 for augmented and transfer)", group=TRAINING, type=float)
    optimizer: str | None = setting(
        None, "--optimizer", lambda: _by_recipe("a tf-keras optimizer: " + ", ".join(OPTIMIZERS),
                                          "optimizer"),
        group=TRAINING)
    early_stopping_patience: int | None = setting(
        None, "--patience", lambda: _by_recipe("early stopping: epochs without a better "
                                               "validation loss", "patience"),
        group=TRAINING, type=int)
    schedule: str | None = setting(
        None, "--schedule", lambda: _by_recipe(
            f"the learning rate after the recipe's warm-up: constant; plateau (cut "
            f"x{PLATEAU_FACTOR:g} when validation loss has not improved for {PLATEAU_PATIENCE} "
            f"epochs); cosine (half a cosine down to {MIN_RATE:g} at the epoch cap)",
            "schedule"), group=TRAINING, choices=SCHEDULES)
    mixed_precision: str = setting(
        "auto", "--mixed-precision", "float16 compute, float32 variables and outputs: auto (on "
        "when a GPU is present), on, off", group=TRAINING, choices=("auto", "on", "off"))
    dropout: float | None = setting(None, "--dropout", "dropout rate of the model's head "
                                    "(default: the module's course value)", group=TRAINING,
                                    type=float)
    augment: bool | None = setting(None, "--augment", "augment training images (default: on for "
                                   "augmented and multiclass)", group=AUGMENTATION, action=_BOOL)
    augmentation: Augmentation = dataclasses.field(default_factory=Augmentation)
    steps_per_epoch: int | None = setting(
        None, "--steps-per-epoch", "cap the training steps per epoch (default: one pass)",
        group=TRAINING, type=int)
    # Transfer learning (the `transfer` model) and the data review's features.
    base: str = setting(catalog.DEFAULT_BASE, "--base", group=PRETRAINED, choices=catalog.BASES)
    cut_layer: str | None = setting(
        None, "--cut-layer", "cut the base at this layer (default: mixed7 for inception_v3)",
        group=PRETRAINED)
    weights: str = setting("imagenet", "--weights",
                           "imagenet (downloaded by Keras), none, or a local weights .h5",
                           group=PRETRAINED)
    alpha: float = setting(1.0, "--alpha", "MobileNetV2 width multiplier (0.35, 0.5, 0.75, 1.0, "
                           "1.3 or 1.4)", group=PRETRAINED, type=float)
    fine_tune_layers: float | None = setting(
        None, "--fine-tune-layers", lambda: _by_recipe(
            "phase two: unfreeze the top N layers of a pretrained base, or a fraction < 1; 0: no "
            "phase two", "fine_tune_layers"), group=TRANSFER, type=float)
    head_epochs: int | None = setting(
        None, "--head-epochs", lambda: _by_recipe(
            "phase one's epoch cap when the head trains on the frozen base's features computed "
            "once (under a second per epoch on a thousand photos; early stopping ends it "
            "sooner)", "head_epochs", unset="--epochs"), group=TRANSFER, type=int)
    fine_tune_epochs: int | None = setting(
        None, "--fine-tune-epochs", lambda: _by_recipe("phase two's epochs", "fine_tune_epochs"),
        group=TRANSFER, type=int)
    fine_tune_learning_rate: float = setting(1e-5, "--fine-tune-learning-rate", group=TRANSFER,
                                             type=float)
    cache_memory: str = setting(
        "auto", "--cache-memory", "decoded pixels kept in memory: a size (2GB, 512MB; 0: all on "
        "disk) or auto, half the memory available (a container's limit included); the rest "
        "goes to local disk", group=INPUT)
    cache_dir: str | None = setting(
        None, "--cache-dir", "local disk folder for the pixels beyond --cache-memory, removed "
        "after the run (default: the system's temporary folder; on Kubeflow the Trainer's "
        "scratch volume)", group=INPUT)
    class_weight: str = setting(
        class_balance.AUTO, "--class-weight", f"weight the classes in the loss: "
        f"{class_balance.BALANCED} (n / (k * n_class) per class), {class_balance.NONE}, or "
        f"{class_balance.AUTO}: balanced when the training split's imbalance (largest / smallest "
        f"class) is above {class_balance.IMBALANCED_ABOVE:g}:1", group=TRAINING,
        choices=class_balance.CLASS_WEIGHTS)
    # The weight of each class id, resolved from --class-weight and the training split's
    # counts once, by run_fn (and tuner_fn); None: unweighted.
    class_weights: tuple[float, ...] | None = None
    distribution: str = "default"  # default | mirrored (all local GPUs) | multi_worker_mirrored
    seed: int = setting(42, "--seed", "the training's random seed: weight initialisation, "
                        "shuffling, augmentation (the split has its own)", group=TRAINING,
                        type=int)

    def __post_init__(self) -> None:
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.recipe not in RECIPES:
            raise ValueError(f"--recipe {self.recipe!r}: choose one of {sorted(RECIPES)}")
        for name, flag in (("epochs", "--epochs"), ("batch_size", "--batch-size")):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{flag} must be at least 1")
        parse_size(self.cache_memory)
        if self.optimizer is not None:
            _check_optimizer(self.optimizer)

    def to_custom_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> TrainingConfig:
        return from_dict(cls, custom_config or {})

    def replace(self, **changes: Any) -> TrainingConfig:
        return dataclasses.replace(self, **changes)
