"""The model's input image: height, width and channels, as every component receives it.

Transform (decode and resize), the Trainer (the model's input shape) and the Pusher (the
warmup request's image) all read it from their custom_config with the one pair below;
a missing key is an error naming it, never a silent fallback.
"""

from __future__ import annotations

import dataclasses
from typing import Any

CUSTOM_CONFIG_KEY = "image_spec"


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """Images are decoded to `channels` (1 grey, 3 RGB) and resized to height x width."""

    height: int
    width: int
    channels: int = 3

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise ValueError(f"--image-size must be at least 1, got {self.height}x{self.width}")
        if self.channels not in (1, 3):
            raise ValueError(f"--channels must be 1 or 3, got {self.channels}")

    @classmethod
    def square(cls, size: int, channels: int = 3) -> ImageSpec:
        return cls(size, size, channels)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    def to_custom_config(self) -> dict[str, Any]:
        """The entry a component's custom_config carries: {"image_spec": {...}}."""
        return {CUSTOM_CONFIG_KEY: dataclasses.asdict(self)}

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> ImageSpec:
        """The spec in a custom_config; KeyError naming what is missing."""
        values = (custom_config or {}).get(CUSTOM_CONFIG_KEY)
        if values is None:
            raise KeyError(f"custom_config has no '{CUSTOM_CONFIG_KEY}' (got keys "
                           f"{sorted(custom_config or {})})")
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in values]
        if missing:
            raise KeyError(f"custom_config['{CUSTOM_CONFIG_KEY}'] has no {', '.join(missing)}")
        return cls(**{f.name: int(values[f.name]) for f in dataclasses.fields(cls)})


DEFAULT_IMAGE = ImageSpec.square(150)  # the course's input size, for image folders
