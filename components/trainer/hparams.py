"""Training hyper-parameters as they travel in the Trainer's custom_config."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """What run_fn needs besides the data: the model by name and its hyper-parameters."""

    model: str = "scratch"
    image_height: int = 150
    image_width: int = 150
    image_channels: int = 3
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "rmsprop"
    early_stopping_patience: int = 3
    steps_per_epoch: int | None = None  # None: one pass over the training split per epoch
    seed: int = 42

    def to_custom_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> TrainingConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (custom_config or {}).items() if k in names})

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_height, self.image_width, self.image_channels)
