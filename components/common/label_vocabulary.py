"""The label vocabulary file: the sorted class names, one per line, written once and read everywhere.

The ExampleGen writes it beside its splits; the Trainer reads it there and exports it
inside the SavedModel (`assets/`), where the server and `report` read it back.
"""

from __future__ import annotations

import os

import tensorflow as tf

FILE_NAME = "label_vocabulary.txt"


def write(path: str, class_names: list[str]) -> None:
    """Writes one class name per line (any filesystem gfile knows)."""
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("".join(name + "\n" for name in class_names))


def read(path: str) -> list[str]:
    """The class names in the file, in order."""
    with tf.io.gfile.GFile(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def in_examples(split_files: list[str]) -> str:
    """The vocabulary beside the splits, from a split's file pattern (`<examples>/Split-x/*`).

    TFX's FnArgs carries the split file patterns, not the Examples artifact itself,
    so the artifact folder is two levels up.
    """
    return os.path.join(os.path.dirname(os.path.dirname(split_files[0])), FILE_NAME)


def in_saved_model(model_dir: str) -> str:
    """Where an exported model carries its vocabulary."""
    return os.path.join(model_dir, "assets", FILE_NAME)
