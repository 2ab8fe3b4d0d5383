"""What the input data looks like, found before the pipeline starts: folders or CSV, splits, classes.

The class names are fixed here, once, so that label ids, per-class metrics and the
served vocabulary agree for the whole run.
"""

from __future__ import annotations

import dataclasses
import os

from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2

from components.image_example_gen import csv_source, sources
from components.image_example_gen.options import CSV


class DataError(ValueError):
    """The input cannot be used; the message says why in one line."""


@dataclasses.dataclass(frozen=True)
class DataLayout:
    """Where ExampleGen reads (input base + split patterns) and the sorted class names."""

    input_base: str
    class_names: list[str]
    split_folders: dict[str, str] | None = None  # {"train": pattern, "eval": pattern}
    input_pattern: str = sources.WHOLE_TREE  # the one input split when split_folders is None


def _check_classes(data: str, class_names: list[str], what: str) -> None:
    if not class_names:
        raise DataError(f"{data}: no {what}")
    if len(class_names) == 1:
        raise DataError(f"{data}: only one class ({class_names[0]}); a classifier needs at "
                        "least 2 class folders or labels")


SPAN_TAGS = ("{SPAN}", "{VERSION}", "{YYYY}", "{MM}", "{DD}")


def split_span_path(data: str) -> tuple[str, str]:
    """'.../images/span-{SPAN}/' -> ('.../images', 'span-{SPAN}'): the base, and the pattern
    from the first path component with a TFX span or version tag."""
    parts = data.rstrip("/").split("/")
    first = next(i for i, part in enumerate(parts) if any(tag in part for tag in SPAN_TAGS))
    return "/".join(parts[:first]) or "/", "/".join(parts[first:])


def latest_span_folder(base: str, pattern: str) -> str:
    """The folder the pattern names for the newest span (and version), as TFX's driver picks it."""
    split = example_gen_pb2.Input.Split(name="all", pattern=pattern)
    try:
        example_gen_utils.calculate_splits_fingerprint_span_and_version(base, [split])
    except ValueError as error:
        raise DataError(f"{base}/{pattern}: {error}") from None
    return split.pattern


def span_layout(data: str) -> DataLayout:
    """Data below a span/version pattern: the pattern stays in the pipeline (each run takes
    the newest span); classes and split folders come from the newest span now."""
    base, pattern = split_span_path(data)
    resolved = latest_span_folder(base, pattern)
    current = folder_layout(sources.split_root(base, resolved))
    if current.split_folders:
        folders = {split: f"{pattern}/{folder}" for split, folder in current.split_folders.items()}
        return DataLayout(base, current.class_names, folders)
    return DataLayout(base, current.class_names, input_pattern=pattern)


def folder_layout(data: str) -> DataLayout:
    """A class-per-folder tree, optionally inside train/ and eval|validation|test/."""
    if any(tag in data for tag in SPAN_TAGS):
        return span_layout(data)
    if not os.path.exists(data) and "://" not in data:
        raise DataError(f"{data}: no such folder")
    if "://" not in data and not os.path.isdir(data):
        raise DataError(f"{data}: not a folder (expected one sub-folder of images per class; "
                        "for a CSV of pixels use --data-format csv)")
    split_folders = sources.find_split_folders(data)
    patterns = list(split_folders.values()) if split_folders else [sources.WHOLE_TREE]
    class_names = sources.sort_class_names(
        name for p in patterns for _, name in sources.list_split(data, p).images)
    _check_classes(data, class_names, "images found (expected <class>/<image> with extensions "
                   "jpg, jpeg, png, gif or bmp)")
    return DataLayout(data, class_names, split_folders)


def csv_layout(data: str, eval_data: str | None = None) -> DataLayout:
    """One CSV (hash-split into train/eval) or a train CSV and an eval CSV."""
    files = [data] + ([eval_data] if eval_data else [])
    for path in files:
        if not os.path.isfile(path) and "://" not in path:
            raise DataError(f"{path}: no such file")
        if not csv_source.is_csv(path):
            raise DataError(f"{path}: expected a .csv or .csv.gz file")
    base = os.path.dirname(os.path.abspath(files[0])) if len(files) == 1 else os.path.commonpath(
        [os.path.dirname(os.path.abspath(p)) for p in files])
    patterns = [os.path.relpath(os.path.abspath(p), base) for p in files]
    labels = set()
    for path, pattern in zip(files, patterns, strict=False):
        labels.update(label for _, label, _ in csv_source.list_rows(path, pattern).rows)
    class_names = sources.sort_class_names(labels)
    _check_classes(data, class_names, "data rows found (expected label,pixel1,...,pixelN)")
    if eval_data:
        return DataLayout(base, class_names, {"train": patterns[0], "eval": patterns[1]})
    return DataLayout(base, class_names, input_pattern=patterns[0])


def inspect_data(data: str, data_format: str, eval_data: str | None = None) -> DataLayout:
    """The layout of the input; DataError with a one-line reason when it is unusable."""
    if data_format == CSV:
        return csv_layout(data, eval_data)
    return folder_layout(data)
