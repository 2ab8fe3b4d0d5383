"""The model registry: `visionpipe run --model NAME` picks a trainer module from here.

Each module has `build(config, num_classes) -> compiled keras.Model`; its entry here
says whether it trains on augmented images by default and how it fine-tunes (if it can).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tf_keras as keras

from components.trainer.hparams import TrainingConfig
from components.trainer.models import augmented, multiclass, scratch, transfer

ModelBuilder = Callable[[TrainingConfig, int], keras.Model]
FineTuner = Callable[[keras.Model, TrainingConfig, int], keras.Model]


@dataclasses.dataclass(frozen=True)
class TrainerModule:
    """A model builder and how it trains: augmentation by default, an optional fine-tune phase."""

    build: ModelBuilder
    augment_by_default: bool = False
    fine_tune: FineTuner | None = None
    description: str = ""
    learning_rate: float = 1e-3  # the course's RMSprop rate for this week's model


MODELS: dict[str, TrainerModule] = {
    "scratch": TrainerModule(scratch.build, description="course week 1: cats-vs-dogs CNN"),
    "augmented": TrainerModule(
        augmented.build, augment_by_default=True, learning_rate=1e-4,
        description="course week 2: bigger CNN, dropout, per-epoch augmentation"),
    "transfer": TrainerModule(
        transfer.build, fine_tune=transfer.fine_tune, learning_rate=1e-4,
        description="course week 3: pretrained base (InceptionV3 mixed7, MobileNetV2, "
                    "EfficientNetB0), frozen, new head, optional fine-tuning"),
    "multiclass": TrainerModule(
        multiclass.build, augment_by_default=True,
        description="course week 4: Rock-Paper-Scissors CNN, softmax over N classes"),
}


def trainer_module(name: str) -> TrainerModule:
    """The registered module called name; a clear error listing the choices otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name]


def with_defaults(config: TrainingConfig) -> TrainingConfig:
    """The config with the module's own learning rate when none was given."""
    if config.learning_rate is None:
        return config.replace(learning_rate=trainer_module(config.model).learning_rate)
    return config


def build_model(config: TrainingConfig, num_classes: int) -> keras.Model:
    """Builds and compiles the model named in the config for num_classes classes."""
    module = trainer_module(config.model)
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    return module.build(with_defaults(config), num_classes)


def uses_augmentation(config: TrainingConfig) -> bool:
    """The config's explicit choice, else the model's default."""
    if config.augment is not None:
        return config.augment
    return trainer_module(config.model).augment_by_default
