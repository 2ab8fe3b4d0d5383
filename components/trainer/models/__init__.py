"""The model registry: `visionpipe run --model NAME` picks a builder from here."""

from __future__ import annotations

from collections.abc import Callable

import tf_keras as keras

from components.trainer.hparams import TrainingConfig
from components.trainer.models import scratch

ModelBuilder = Callable[[TrainingConfig, int], keras.Model]

MODELS: dict[str, ModelBuilder] = {
    "scratch": scratch.build,
}


def build_model(config: TrainingConfig, num_classes: int) -> keras.Model:
    """Builds and compiles the model named in the config for num_classes classes."""
    if config.model not in MODELS:
        raise ValueError(f"unknown model {config.model!r}; choose one of {sorted(MODELS)}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    return MODELS[config.model](config, num_classes)
