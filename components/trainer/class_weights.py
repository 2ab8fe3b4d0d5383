"""The class weights a training run uses: `--class-weight` resolved against the training
split's counts (components/common/class_balance.py), said in one progress line."""

from __future__ import annotations

import logging

from components.common import class_balance
from components.trainer import input_pipeline
from components.trainer.hparams import TrainingConfig

progress = logging.getLogger("visionpipe.progress")


def with_class_weights(config: TrainingConfig, train_files: list[str],
                       class_names: list[str]) -> tuple[TrainingConfig, dict]:
    """(the config with class_weights resolved, what applied: {"applied", "why", "weights"})."""
    counts = input_pipeline.class_counts(train_files, class_names)
    weights, why = class_balance.resolve(config.class_weight, counts)
    applied = {"applied": class_balance.BALANCED if weights else class_balance.NONE, "why": why,
               "weights": dict(zip(class_names, weights, strict=True)) if weights else None}
    shown = ""
    if weights:
        low, high = min(applied["weights"].items(), key=lambda item: item[1]), max(
            applied["weights"].items(), key=lambda item: item[1])
        shown = f": from {low[1]:g} ({low[0]}) to {high[1]:g} ({high[0]})"
    progress.info("class weights: %s%s", why, shown)
    return config.replace(class_weights=tuple(weights) if weights else None), applied
