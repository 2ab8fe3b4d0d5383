"""The ImageExampleGen's own settings, carried as one JSON execution property."""

from __future__ import annotations

import dataclasses
import json

from components.common.settings import setting
from components.image_example_gen.layout import DEFAULT_SPLIT_RATIO, parse_split_ratio
from components.image_example_gen.sources import DEFAULT_FORMAT, FORMATS

DEFAULT_MAX_PIXELS = 50_000_000  # 50 megapixels: far above any training photo, far below a bomb
# Above 10 % of the validation and test images with a near-copy in training, a verdict can
# be off by up to 10 points on copies alone: stop. Below, the run warns and lists every pair.
# Measured (BENCHMARKS.md): sign MNIST hash-split by row 99 %, Rock-Paper-Scissors
# train/ vs test/ 5 %, Caltech-101 photos 1-2 %.
DEFAULT_MAX_LEAKAGE = 0.1
Shares = tuple[tuple[str, int], ...]
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
    split_ratio: tuple[int, int, int] = setting(
        DEFAULT_SPLIT_RATIO, "--split-ratio", "percent for training/validation/test when the "
        "data has no split folders (near-copies stay in one split); with train/ and test/ "
        "only, validation is carved from train/ as TRAIN:VALIDATION", group=DATA,
        type=parse_split_ratio, metavar="TRAIN/VAL/TEST")
    max_leakage: float = setting(
        DEFAULT_MAX_LEAKAGE, "--max-leakage", "stop when more than this fraction of the "
        "validation and test images have a near-copy in training (1 to only warn)",
        group=DATA, type=float, metavar="FRACTION")
    class_names: tuple[str, ...] = ()  # empty: the classes found in the data
    inputs: tuple[tuple[str, Shares], ...] = ()  # each input's roles, from the data's layout
    model_side: int = 0  # the model's input short side: what is tiny (image_measures.py)
    # Internal switches, for the benchmarks (bench/ingest_benchmarks.py): the threads each
    # Beam worker reads and decodes with (0: up to 4, one per core), the duplicate search
    # and the image measures (image_measures.py; off: no measure features, no issues).
    read_threads: int = 0
    duplicate_search: bool = True
    image_measures: bool = True

    def __post_init__(self) -> None:
        if self.data_format not in FORMATS:
            raise ValueError(f"--data-format must be one of {sorted(FORMATS)}, "
                             f"got {self.data_format!r}")
        if not 0.0 <= self.max_leakage <= 1.0:
            raise ValueError(f"--max-leakage must be between 0 and 1, got {self.max_leakage}")

    def with_inputs(self, inputs) -> IngestOptions:
        """The options carrying each input's roles (layout.InputSplit: the data's layout)."""
        return dataclasses.replace(self, inputs=tuple((split.name, split.shares)
                                                      for split in inputs))

    def shares_by_input(self) -> dict[str, Shares]:
        """{input name: ((role, weight), ...)}."""
        return dict(self.inputs)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> IngestOptions:
        if not text:
            return cls()
        values = json.loads(text)
        values["class_names"] = tuple(values.get("class_names", ()))
        for key in ("image_shape", "split_ratio"):
            if key in values:
                values[key] = tuple(values[key])
        values["inputs"] = tuple((name, tuple((role, int(weight)) for role, weight in shares))
                                 for name, shares in values.get("inputs", ()))
        return cls(**values)
