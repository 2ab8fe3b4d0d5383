"""The registry of data sources: `--data-format NAME` picks one; a new format is one module here.

Each module defines a `SOURCE` (see base.Source): how to find the layout of the data,
list a split, read one item as encoded image bytes, and fingerprint the input. The CLI's
choices, the config's validation, the layout check before a run, the ExampleGen's
executor and its driver all read this registry. Modules are imported when first used,
so building the command line does not load TensorFlow.
"""

from __future__ import annotations

import importlib

from components.image_example_gen.sources.base import (
    Item,
    Listing,
    Source,
    UnreadableItem,
    sort_class_names,
)

# name -> (module defining SOURCE, what the format is)
FORMATS: dict[str, tuple[str, str]] = {
    "folder": ("components.image_example_gen.sources.image_folder",
               "one sub-folder of images per class (optionally inside train/ and eval/)"),
    "csv": ("components.image_example_gen.sources.pixel_csv",
            "a CSV of pixel rows, label first (Kaggle's Sign Language MNIST format)"),
}
DEFAULT_FORMAT = "folder"


def source(name: str) -> Source:
    """The registered source called name; ValueError listing the choices otherwise."""
    if name not in FORMATS:
        raise ValueError(f"--data-format must be one of {sorted(FORMATS)}, got {name!r}")
    found = importlib.import_module(FORMATS[name][0]).SOURCE
    assert found.name == name, (found.name, name)
    return found


__all__ = ["DEFAULT_FORMAT", "FORMATS", "Item", "Listing", "Source", "UnreadableItem",
           "sort_class_names", "source"]
