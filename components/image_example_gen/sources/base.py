"""What every data source gives the ExampleGen: items to read, and files skipped with a reason."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from components.image_example_gen.layout import (
    DataLayout,
    check_classes,
    hash_split,
    ratio_text,
)


class UnreadableItem(ValueError):
    """An item a source cannot turn into image bytes (e.g. a malformed CSV row); says why."""


@dataclasses.dataclass(frozen=True)
class Item:
    """One image to read: its id (a path below the input base, or `<file>:<line>`) and class."""

    id: str
    class_name: str
    payload: str | None = None  # what `read` needs beyond the id (a CSV row's text)


@dataclasses.dataclass
class Listing:
    """The items of one split, and what was skipped before reading, with reasons."""

    items: list[Item] = dataclasses.field(default_factory=list)
    ignored: list[dict[str, str]] = dataclasses.field(default_factory=list)  # {"path", "reason"}


@dataclasses.dataclass(frozen=True)
class Source:
    """A data format: how to find its layout, list a split, read one item, fingerprint it.

    discover(data, validation_data, test_data, split_ratio) -> DataLayout: the layout of what
        the user points at (DataError with one line when it is unusable);
    list_split(input_base, pattern) -> Listing;
    read(input_base, item, image_shape) -> the item's encoded image bytes;
    size(input_base, item) -> about how many bytes read returns (OSError if unreadable);
    fingerprint(input_base, patterns) -> a string that changes when the data does;
    default_shape(image_shape) -> (height, width, channels) to train at when not given;
    declare(data, class_names, split_ratio) -> DataLayout: the layout of data that cannot be
        listed here (`compile --class-names`), said as an assumption in its warnings.
    """

    name: str
    discover: Callable[[str, str | None, str | None, tuple[int, int, int]], DataLayout]
    list_split: Callable[[str, str], Listing]
    read: Callable[[str, Item, tuple[int, int, int]], bytes]
    size: Callable[[str, Item], int]
    fingerprint: Callable[[str, list[str]], str]
    default_shape: Callable[[tuple[int, int, int]], tuple[int, int, int]]
    declare: Callable[[str, list[str], tuple[int, int, int]], DataLayout]


def declared_layout(input_base: str, pattern: str, class_names: list[str],
                    split_ratio: tuple[int, int, int], what: str) -> DataLayout:
    """One input of the given class names, hash-split three ways, not listed here: the
    layout's description and warning say it is an assumption (what: the data's unit, e.g.
    "one folder per class"); the ExampleGen checks it when it runs (an item of another
    class stops it, naming the class)."""
    names = sort_class_names(name.strip() for name in class_names if name.strip())
    check_classes(input_base, names, "class names in --class-names")
    split = hash_split("all", pattern, split_ratio)
    return DataLayout(input_base, names, (split,),
                      f"{what}, hash-split {ratio_text(split.shares)}",
                      (f"the data was not listed here (--class-names): taken to be {what}, "
                       "hash-split; the ExampleGen stops if it finds anything else",))


def sort_class_names(names: Iterable[str]) -> list[str]:
    """Sorted and unique; when every name is an integer (CSV labels), in numeric order."""
    unique = set(names)
    if unique and all(name.lstrip("-").isdigit() for name in unique):
        return sorted(unique, key=int)
    return sorted(unique)
