"""The model registry: `visionpipe run --model NAME` picks a trainer module from here.

Each module has `build(config, image, num_classes) -> compiled keras.Model`; its entry
here gives its course defaults (learning rate, dropout, augmentation) and how it
fine-tunes, if it can. `resolve_defaults` fills those defaults, and the recipe's
(recipes.py), into the config once; builders only ever see a resolved config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer import catalog
from components.trainer.hparams import TrainingConfig
from components.trainer.models import augmented, multiclass, scratch, transfer
from components.trainer.recipes import recipe

ModelBuilder = Callable[[TrainingConfig, ImageSpec, int], keras.Model]
FineTuner = Callable[[keras.Model, TrainingConfig, int], keras.Model]


@dataclasses.dataclass(frozen=True)
class TrainerModule:
    """A model builder and its course defaults: learning rate, dropout, augmentation,
    fine-tuning (what each module is: catalog.MODULES)."""

    build: ModelBuilder
    learning_rate: float = 1e-3  # the course's RMSprop rate for this week's model
    dropout: float = 0.0  # the course's dropout before the head (0: none)
    augment_by_default: bool = False
    fine_tune: FineTuner | None = None
    pretrained: Callable[[TrainingConfig], bool] = lambda config: False  # has trained weights
    # (features, head) of a built model whose features are frozen: phase one may then
    # train the head on features computed once (the course's "bottleneck features").
    split_frozen: Callable[[keras.Model], tuple[keras.Model, keras.Model]] | None = None
    # (front, back) around the boundary below the layers fine-tuning unfreezes (or None):
    # phase two may then train back on front's outputs computed once.
    split_below_top: Callable[[keras.Model, float], transfer.BelowTop | None] | None = None


MODELS: dict[str, TrainerModule] = {
    "scratch": TrainerModule(scratch.build),
    "augmented": TrainerModule(augmented.build, learning_rate=1e-4, dropout=augmented.DROPOUT,
                               augment_by_default=True),
    "transfer": TrainerModule(
        transfer.build, learning_rate=1e-4, dropout=transfer.DROPOUT,
        fine_tune=transfer.fine_tune, pretrained=transfer.is_pretrained,
        split_frozen=transfer.split_at_base, split_below_top=transfer.split_below_top),
    "multiclass": TrainerModule(multiclass.build, dropout=multiclass.DROPOUT,
                                augment_by_default=True),
}
assert set(MODELS) == set(catalog.MODULES), "the registry and the catalog must name the same modules"


def trainer_module(name: str) -> TrainerModule:
    """The registered module called name; a clear error listing the choices otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name]


def resolve_defaults(config: TrainingConfig) -> TrainingConfig:
    """The config with every unset value (None) replaced: the module's course value for its
    architecture (dropout, whether it augments), the recipe's for how it trains (how far
    augmentation moves an image included)."""
    module = trainer_module(config.model)
    chosen = recipe(config.recipe)
    # Phase two exists only where there is something pretrained to fine-tune.
    has_phase_two = module.fine_tune is not None and module.pretrained(config)

    def unset(value, default):
        return default if value is None else value

    epochs = unset(config.epochs, chosen.epochs)
    return config.replace(
        epochs=epochs,
        learning_rate=unset(config.learning_rate,
                            chosen.learning_rate_for(config.model) or module.learning_rate),
        optimizer=unset(config.optimizer, chosen.optimizer),
        early_stopping_patience=unset(config.early_stopping_patience, chosen.patience),
        schedule=unset(config.schedule, chosen.schedule),
        dropout=unset(config.dropout, module.dropout),
        augment=unset(config.augment, module.augment_by_default),
        augmentation=config.augmentation.resolved_by(chosen.augmentation),
        fine_tune_layers=unset(config.fine_tune_layers, chosen.fine_tune_layers if has_phase_two else 0),
        fine_tune_epochs=unset(config.fine_tune_epochs, chosen.fine_tune_epochs if has_phase_two else 0),
        head_epochs=unset(config.head_epochs, chosen.head_epochs or epochs),
    )


def is_resolved(config: TrainingConfig) -> bool:
    return config.augmentation.is_resolved() and None not in (
        config.epochs, config.learning_rate, config.dropout, config.augment, config.optimizer,
        config.early_stopping_patience, config.schedule, config.fine_tune_layers,
        config.fine_tune_epochs, config.head_epochs)


def build_model(config: TrainingConfig, image: ImageSpec, num_classes: int) -> keras.Model:
    """Builds and compiles the model named in a resolved config for num_classes classes."""
    if not is_resolved(config):
        raise ValueError("build_model needs a resolved config (models.resolve_defaults)")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    return trainer_module(config.model).build(config, image, num_classes)
