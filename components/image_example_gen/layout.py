"""What the input data looks like: where the ExampleGen reads, its splits and the class names.

Each data source (sources/) finds the layout of the data a user points at; the pipeline
fixes the class names from it once, so label ids, per-class metrics and the served
vocabulary agree for the whole run.
"""

from __future__ import annotations

import dataclasses

WHOLE_TREE = "."  # the split pattern that means "the whole input base is one split"


class DataError(ValueError):
    """The input cannot be used; the message says why in one line."""


@dataclasses.dataclass(frozen=True)
class DataLayout:
    """Where ExampleGen reads (input base + split patterns) and the sorted class names."""

    input_base: str
    class_names: list[str]
    split_folders: dict[str, str] | None = None  # {"train": pattern, "eval": pattern}
    input_pattern: str = WHOLE_TREE  # the one input split when split_folders is None


def check_classes(data: str, class_names: list[str], what: str) -> None:
    """DataError unless there are at least two classes; `what` says what was looked for."""
    if not class_names:
        raise DataError(f"{data}: no {what}")
    if len(class_names) == 1:
        raise DataError(f"{data}: only one class ({class_names[0]}); a classifier needs at "
                        "least 2 class folders or labels")
