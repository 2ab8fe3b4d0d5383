"""Training hyper-parameters as they travel in the Trainer's custom_config."""

from __future__ import annotations

import dataclasses
from typing import Any

TUNERS = ("random", "bayesian")  # `--tune` choices: KerasTuner's random search or Bayesian
TUNABLE = ("learning_rate", "dropout", "batch_size")  # what the Tuner may set (see tuning.py)


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Random augmentation of training images, with the course's ImageDataGenerator meanings.

    Defaults are the course's week-2 settings. Angles are in degrees (as in Keras:
    shear 0.2 is 0.2 degrees), shifts a fraction of the side, zoom a +/- range.
    """

    rotation: float = 40.0
    width_shift: float = 0.2
    height_shift: float = 0.2
    shear: float = 0.2
    zoom: float = 0.2
    horizontal_flip: bool = True
    vertical_flip: bool = False
    brightness: float = 0.0  # multiply by U(1 - b, 1 + b)
    contrast: float = 0.0  # scale around the image mean by U(1 - c, 1 + c)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """What run_fn needs besides the data: the model by name and its hyper-parameters."""

    model: str = "scratch"
    image_height: int = 150
    image_width: int = 150
    image_channels: int = 3
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float | None = None  # None: the model's course value (see models/)
    optimizer: str = "rmsprop"
    early_stopping_patience: int = 3
    dropout: float | None = None  # None: the model's course value
    augment: bool | None = None  # None: the model's default (on for `augmented`)
    augmentation: Augmentation = Augmentation()
    steps_per_epoch: int | None = None  # None: one pass over the training split per epoch
    # Transfer learning (the `transfer` model).
    base: str = "inception_v3"
    cut_layer: str | None = None  # None: the base's default (mixed7 for InceptionV3)
    weights: str = "imagenet"  # imagenet | none | path to a weights file (.h5)
    alpha: float = 1.0  # MobileNetV2 width multiplier
    fine_tune_layers: float = 0  # top N layers of the base (or a fraction if < 1) to unfreeze
    fine_tune_epochs: int = 0
    fine_tune_learning_rate: float = 1e-5
    distribution: str = "default"  # default | mirrored (all local GPUs) | multi_worker_mirrored
    seed: int = 42

    def to_custom_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> TrainingConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in (custom_config or {}).items() if k in names}
        if isinstance(values.get("augmentation"), dict):
            values["augmentation"] = Augmentation(**values["augmentation"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainingConfig:
        return dataclasses.replace(self, **changes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_height, self.image_width, self.image_channels)
