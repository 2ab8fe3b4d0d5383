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
import os
import posixpath
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
from PIL import Image

from components.common.paths import absolute, is_local
from components.image_example_gen.layout import (
    DEFAULT_SPLIT_RATIO,
    TEST,
    TRAIN,
    VALIDATION,
    DataError,
    DataLayout,
    InputSplit,
    check_classes,
    check_split_classes,
    hash_split,
    ratio_text,
)
from components.image_example_gen.sources.base import (
    Item,
    Listing,
    Source,
    UnreadableItem,
    declared_layout,
    sort_class_names,
)

CSV_EXTENSIONS = (".csv", ".csv.gz")


class InvalidRow(UnreadableItem):
    """A row that cannot be an image of the configured shape; the message says why."""


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


def list_rows(path: str, name: str) -> Listing:
    """Every data row of the CSV at path (ids are `<name>:<line number>`); blank lines skipped.

    A first row whose label cell is not a number is the header; otherwise every row is data.
    """
    listing = Listing()
    for number, line in enumerate(_lines(path), start=1):
        row_id = f"{name}:{number}"
        if not line.strip():
            listing.ignored.append({"path": row_id, "reason": "blank line"})
            continue
        label = line.split(",", 1)[0].strip()
        if number == 1 and not _is_number(label):
            continue  # the header
        listing.items.append(Item(row_id, label, payload=line))
    return listing


def list_split(input_base: str, pattern: str) -> Listing:
    """The rows of the CSV file the pattern names below the input base."""
    return list_rows(os.path.join(input_base, pattern), pattern)


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


def read(input_base: str, item: Item, image_shape: tuple[int, int, int]) -> bytes:
    """The row's pixels as PNG bytes; InvalidRow when the row is not an image of image_shape."""
    del input_base  # the row's text travels in the item
    return encode_png(parse_row(item.payload or "", image_shape))


def size(input_base: str, item: Item) -> int:
    """About the size of the row's PNG: one byte a pixel value, at most."""
    del input_base
    return len((item.payload or "").split(","))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def discover(data: str, validation_data: str | None = None, test_data: str | None = None,
             split_ratio: tuple[int, int, int] = DEFAULT_SPLIT_RATIO) -> DataLayout:
    """One CSV hash-split three ways, or a training CSV with a validation and/or a test CSV
    (without a validation CSV, validation is hash-split out of the training CSV)."""
    given = {TRAIN: data, VALIDATION: validation_data, TEST: test_data}
    files = {role: path for role, path in given.items() if path}
    for path in files.values():
        if is_local(path) and not os.path.isfile(path):
            raise DataError(f"{path}: no such file")
        if not is_csv(path):
            raise DataError(f"{path}: expected a .csv or .csv.gz file")
    folders = {os.path.dirname(os.path.abspath(p)) for p in files.values()}
    base = folders.pop() if len(folders) == 1 else os.path.commonpath(sorted(folders))
    patterns = {role: os.path.relpath(os.path.abspath(p), base) for role, p in files.items()}
    classes = {role: sort_class_names(item.class_name for item in list_rows(path, patterns[role]).items)
               for role, path in files.items()}
    warnings = check_split_classes(data, {patterns[r]: c for r, c in classes.items()},
                                   patterns[TRAIN]) if len(files) > 1 else []
    class_names = classes[TRAIN]
    check_classes(data, class_names, "data rows found (expected label,pixel1,...,pixelN)")
    if len(files) == 1:
        split = hash_split("all", patterns[TRAIN], split_ratio)
        return DataLayout(base, class_names, (split,),
                          f"{patterns[TRAIN]}, hash-split {ratio_text(split.shares)}")
    inputs, parts = [], []
    if VALIDATION in files:
        inputs += [InputSplit(TRAIN, patterns[TRAIN], ((TRAIN, 100),)),
                   InputSplit(VALIDATION, patterns[VALIDATION], ((VALIDATION, 100),))]
        parts += [patterns[TRAIN], patterns[VALIDATION]]
    else:
        carved = InputSplit(TRAIN, patterns[TRAIN], ((TRAIN, split_ratio[0]),
                                                     (VALIDATION, split_ratio[1] or 10)))
        inputs.append(carved)
        parts.append(f"{patterns[TRAIN]} (hash-split {ratio_text(carved.shares)})")
    if TEST in files:
        inputs.append(InputSplit(TEST, patterns[TEST], ((TEST, 100),)))
        parts.append(patterns[TEST])
    else:
        warnings.append("no test split: the blessing is measured on the validation split, "
                        "which also chose the model (early stopping), so it is optimistic")
    return DataLayout(base, class_names, tuple(inputs), " + ".join(parts), tuple(warnings))


def fingerprint(input_base: str, patterns: list[str]) -> str:
    """Each CSV file's size and modification time."""
    parts = []
    for pattern in patterns:
        stat = tf.io.gfile.stat(os.path.join(input_base, pattern))
        parts.append(f"{pattern}:{stat.length}:{stat.mtime_nsec}")
    return "files:" + ",".join(parts)


def default_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Rows train at their own size (square, the larger side) and channels."""
    height, width, channels = image_shape
    return (max(height, width), max(height, width), channels)


def declare(data: str, class_names: list[str],
            split_ratio: tuple[int, int, int] = DEFAULT_SPLIT_RATIO) -> DataLayout:
    """A CSV that cannot be read from here: its rows hash-split three ways."""
    base, pattern = posixpath.split(absolute(data))
    return declared_layout(base, pattern, class_names, split_ratio, f"the rows of {pattern}")


SOURCE = Source(
    name="csv",
    discover=discover, list_split=list_split, read=read, size=size, fingerprint=fingerprint,
    default_shape=default_shape, declare=declare,
)
