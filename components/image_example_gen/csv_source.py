"""Images stored as CSV rows of pixels (Kaggle's Sign Language MNIST format).

`label,pixel1,...,pixelN` with a header row (also accepted without one), gzip allowed.
Each good row becomes a PNG, so the Examples are the same as for image folders and
everything downstream is unchanged. Labels are kept as given: they become class names
(sign MNIST's 0-24 without 9 give 24 classes), and label ids come from the sorted
vocabulary, never from the label's value.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from PIL import Image

CSV_EXTENSIONS = (".csv", ".csv.gz")


class InvalidRow(ValueError):
    """A row that cannot be an image of the configured shape; the message says why."""


@dataclass
class CsvListing:
    """The data rows of one CSV file as (row id, label, line), and what was skipped."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    has_header: bool = True


def is_csv(path: str) -> bool:
    """True for .csv and .csv.gz files (any case)."""
    return path.lower().endswith(CSV_EXTENSIONS)


def _lines(path: str) -> Iterator[str]:
    # Read whole: pixel CSVs are tens of MB at most, and gfile reads any filesystem.
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    if path.lower().endswith(".gz"):
        data = gzip.decompress(data)
    yield from data.decode("utf-8", errors="replace").splitlines()


def _is_header(first_cell: str) -> bool:
    return not _is_number(first_cell)


def list_rows(path: str, name: str) -> CsvListing:
    """Every data row of the CSV at path (row ids are `<name>:<line number>`); blank lines skipped."""
    listing = CsvListing()
    for number, line in enumerate(_lines(path), start=1):
        row_id = f"{name}:{number}"
        if not line.strip():
            listing.ignored.append({"path": row_id, "reason": "blank line"})
            continue
        label = line.split(",", 1)[0].strip()
        if number == 1:
            listing.has_header = _is_header(label)
            if listing.has_header:
                continue
        listing.rows.append((row_id, label, line))
    return listing


def parse_row(line: str, shape: tuple[int, int, int]) -> np.ndarray:
    """The row's pixels as uint8 [h, w, c]; InvalidRow names the first problem found."""
    cells = line.split(",")[1:]
    height, width, channels = shape
    expected = height * width * channels
    if len(cells) != expected:
        raise InvalidRow(
            f"{len(cells)} pixel values, expected {expected} for {height}x{width}x{channels}"
        )
    try:
        values = np.array(cells, dtype=np.float64)  # numpy parses the strings in C
    except ValueError:
        bad = next(c for c in cells if not _is_number(c))
        raise InvalidRow(f"non-numeric pixel value {bad.strip()[:20]!r}") from None
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 255:
        raise InvalidRow(
            f"pixel values must be between 0 and 255 (found {values.min():g} to {values.max():g})"
        )
    return np.round(values).astype(np.uint8).reshape(height, width, channels)


def encode_png(pixels: np.ndarray) -> bytes:
    """Lossless PNG bytes of uint8 [h, w, 1 or 3] pixels."""
    mode = "L" if pixels.shape[-1] == 1 else "RGB"
    buffer = io.BytesIO()
    Image.fromarray(np.squeeze(pixels, axis=-1) if mode == "L" else pixels, mode).save(
        buffer, "PNG")
    return buffer.getvalue()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


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
