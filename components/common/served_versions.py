"""The versions below a TF Serving model base path: what the Pusher writes and servers load.

A version is a numeric folder (the Pusher's hidden `.tmp-*` folders are not); it is
complete when it holds `saved_model.pb` and its variables index. The newest complete
version is what TF Serving's default "latest" policy serves, and what the Evaluator
compares a new model with. Any filesystem gfile knows (local, gs://, s3://).
"""

from __future__ import annotations

import os

import tensorflow as tf

from components.common.paths import join

SAVED_MODEL_FILE = "saved_model.pb"
VARIABLES_INDEX = os.path.join("variables", "variables.index")


def version_dirs(base_path: str) -> dict[int, str]:
    """Numeric sub-directories of the base path: {version: path}. Temporary names are skipped."""
    if not tf.io.gfile.isdir(base_path):
        return {}
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(base_path))
    return {int(name): join(base_path, name) for name in names
            if name.isdigit() and tf.io.gfile.isdir(join(base_path, name))}


def is_complete(version_dir: str) -> bool:
    """True when the folder holds a whole SavedModel (graph and variables index)."""
    return (tf.io.gfile.exists(join(version_dir, SAVED_MODEL_FILE))
            and tf.io.gfile.exists(join(version_dir, VARIABLES_INDEX)))


def newest_complete_version(base_path: str) -> tuple[int, str] | None:
    """(version, path) of the newest complete version, or None when nothing is served."""
    for version, path in sorted(version_dirs(base_path).items(), reverse=True):
        if is_complete(path):
            return version, path
    return None
