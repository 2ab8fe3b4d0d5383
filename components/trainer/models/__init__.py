"""The model registry: `visionpipe run --model NAME` picks a trainer module from here.

Each module has `build(config, image, num_classes) -> compiled keras.Model`; its entry
here gives its course defaults (learning rate, dropout, augmentation) and how it
fine-tunes, if it can. `resolve_defaults` fills those defaults into the config once;
builders only ever see a resolved config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tf_keras as keras

from components.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models import augmented, multiclass, scratch, transfer

ModelBuilder = Callable[[TrainingConfig, ImageSpec, int], keras.Model]
FineTuner = Callable[[keras.Model, TrainingConfig, int], keras.Model]


@dataclasses.dataclass(frozen=True)
class TrainerModule:
    """A model builder and its course defaults: learning rate, dropout, augmentation, fine-tuning."""

    build: ModelBuilder
    description: str
    learning_rate: float = 1e-3  # the course's RMSprop rate for this week's model
    dropout: float = 0.0  # the course's dropout before the head (0: none)
    augment_by_default: bool = False
    fine_tune: FineTuner | None = None


MODELS: dict[str, TrainerModule] = {
    "scratch": TrainerModule(scratch.build, "course week 1: cats-vs-dogs CNN"),
    "augmented": TrainerModule(
        augmented.build, "course week 2: bigger CNN, dropout, per-epoch augmentation",
        learning_rate=1e-4, dropout=augmented.DROPOUT, augment_by_default=True),
    "transfer": TrainerModule(
        transfer.build, "course week 3: pretrained base (InceptionV3 mixed7, MobileNetV2, "
        "EfficientNetB0), frozen, new head, optional fine-tuning",
        learning_rate=1e-4, dropout=transfer.DROPOUT, fine_tune=transfer.fine_tune),
    "multiclass": TrainerModule(
        multiclass.build, "course week 4: Rock-Paper-Scissors CNN, softmax over N classes",
        dropout=multiclass.DROPOUT, augment_by_default=True),
}


def trainer_module(name: str) -> TrainerModule:
    """The registered module called name; a clear error listing the choices otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name]


def resolve_defaults(config: TrainingConfig) -> TrainingConfig:
    """The config with every "the module's value" (None) replaced by the module's course value."""
    module = trainer_module(config.model)
    return config.replace(
        learning_rate=module.learning_rate if config.learning_rate is None else config.learning_rate,
        dropout=module.dropout if config.dropout is None else config.dropout,
        augment=module.augment_by_default if config.augment is None else config.augment,
    )


def is_resolved(config: TrainingConfig) -> bool:
    return None not in (config.learning_rate, config.dropout, config.augment)


def build_model(config: TrainingConfig, image: ImageSpec, num_classes: int) -> keras.Model:
    """Builds and compiles the model named in a resolved config for num_classes classes."""
    if not is_resolved(config):
        raise ValueError("build_model needs a resolved config (models.resolve_defaults)")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    return trainer_module(config.model).build(config, image, num_classes)
