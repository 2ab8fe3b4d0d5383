"""The ImageExampleGen's own settings, carried as one JSON execution property."""

from __future__ import annotations

import dataclasses
import json

from components.image_example_gen.sources import DEFAULT_FORMAT, FORMATS
from components.settings import setting

DEFAULT_MAX_PIXELS = 50_000_000  # 50 megapixels: far above any training photo, far below a bomb
DATA = "data"  # the argparse group of the data options


def parse_shape(text: str) -> tuple[int, int, int]:
    """'28x28x1' or '28x28' -> (28, 28, 1); ValueError for anything else."""
    parts = text.lower().split("x")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 2:
        numbers.append(1)
    if len(numbers) != 3 or min(numbers) < 1 or numbers[2] not in (1, 3):
        raise ValueError(f"--image-shape {text!r}: use HxWxC with C 1 or 3, e.g. 28x28x1")
    return numbers[0], numbers[1], numbers[2]


@dataclasses.dataclass(frozen=True)
class IngestOptions:
    """How to ingest: the data format, a fixed class list, the pixel cap applied before decoding."""

    data_format: str = setting(
        DEFAULT_FORMAT, "--data-format", "; ".join(f"{name}: {text}"
                                                    for name, (_, text) in FORMATS.items()),
        group=DATA, choices=tuple(FORMATS))
    image_shape: tuple[int, int, int] = setting(
        (28, 28, 1), "--image-shape", "CSV only: the pixel layout of a row, HxWxC",
        group=DATA, type=parse_shape, metavar="HxWxC")
    max_pixels: int = setting(
        DEFAULT_MAX_PIXELS, "--max-pixels",
        "images declaring more pixels are quarantined without decoding", group=DATA, type=int)
    class_names: tuple[str, ...] = ()  # empty: the classes found in the data

    def __post_init__(self) -> None:
        if self.data_format not in FORMATS:
            raise ValueError(f"--data-format must be one of {sorted(FORMATS)}, "
                             f"got {self.data_format!r}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> IngestOptions:
        if not text:
            return cls()
        values = json.loads(text)
        values["class_names"] = tuple(values.get("class_names", ()))
        if "image_shape" in values:
            values["image_shape"] = tuple(values["image_shape"])
        return cls(**values)
