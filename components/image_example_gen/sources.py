"""Find the images in a class-per-folder tree: splits, class names, files, and what is ignored.

Layout: `<input_base>/<class>/**/<image>`, or the user's own split folders
`<input_base>/train/<class>/...` and `<input_base>/{eval,validation,test}/<class>/...`.
The class is the first-level folder below the split root; deeper nesting is allowed.
Works on local paths and on any filesystem TensorFlow's gfile knows (gs://, s3://).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field

import tensorflow as tf

from components import features

# The user's own split folders: output split name -> accepted folder names, in order of preference.
SPLIT_FOLDERS = {"train": ("train",), "eval": ("eval", "validation", "test")}
WHOLE_TREE = "."  # the split pattern that means "the whole input base is one split"


@dataclass
class Listing:
    """The image files of one split root, and the files skipped before reading, with reasons."""

    images: list[tuple[str, str]] = field(default_factory=list)  # (relative path, class name)
    ignored: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}


def find_split_folders(input_base: str) -> dict[str, str] | None:
    """Returns {"train": "train", "eval": <folder>} when the user split the data, else None."""
    present = {name for name, is_dir in _entries(input_base) if is_dir}
    chosen = {}
    for split, candidates in SPLIT_FOLDERS.items():
        folder = next((c for c in candidates if c in present), None)
        if folder is None:
            return None
        chosen[split] = folder
    return chosen


def split_root(input_base: str, pattern: str) -> str:
    """The folder a split pattern names below the input base."""
    return input_base if pattern in ("", WHOLE_TREE) else _join(input_base, pattern)


def class_names(root: str) -> list[str]:
    """The sorted class names: the visible first-level folders below a split root."""
    return sort_class_names(
        name for name, is_dir in _entries(root) if is_dir and not name.startswith(".")
    )


def sort_class_names(names) -> list[str]:
    """Sorted and unique; when every name is an integer (CSV labels), in numeric order."""
    unique = set(names)
    if unique and all(name.lstrip("-").isdigit() for name in unique):
        return sorted(unique, key=int)
    return sorted(unique)


def list_split(input_base: str, pattern: str) -> Listing:
    """Lists every image file of one split and every file skipped before reading."""
    root = split_root(input_base, pattern)
    prefix = "" if pattern in ("", WHOLE_TREE) else pattern.strip("/") + "/"
    listing = Listing()
    for name, is_dir in _entries(root):
        path = prefix + name
        if not is_dir:
            listing.ignored.append({"path": path, "reason": "not inside a class folder"})
        elif name.startswith("."):
            listing.ignored.append({"path": path + "/", "reason": "hidden folder"})
        else:
            for relative, reason in _walk_files(_join(root, name)):
                file_path = f"{path}/{relative}"
                if reason:
                    listing.ignored.append({"path": file_path, "reason": reason})
                else:
                    listing.images.append((file_path, name))
    listing.images.sort()
    return listing


def tree_fingerprint(input_base: str, patterns: list[str]) -> str:
    """A fingerprint of every file (path, size, mtime) below the split roots, at any depth.

    TFX's own fingerprint globs one level only, so a file added or changed in a
    nested class folder would not invalidate the cache; this one walks the tree.
    """
    digest = hashlib.sha256()
    count = total = 0
    for pattern in patterns:
        root = split_root(input_base, pattern)
        if not tf.io.gfile.isdir(root):  # a CSV file is its own split
            stat = tf.io.gfile.stat(root)
            digest.update(f"{pattern}:{stat.length}:{stat.mtime_nsec}\n".encode())
            count, total = count + 1, total + stat.length
            continue
        for relative, reason in sorted(_walk_files(root, keep_all=True)):
            if reason:
                digest.update(f"{pattern}/{relative}:{reason}\n".encode())
                continue
            stat = tf.io.gfile.stat(_join(root, relative))
            digest.update(f"{pattern}/{relative}:{stat.length}:{stat.mtime_nsec}\n".encode())
            count += 1
            total += stat.length
    return f"files:{count},bytes:{total},sha256:{digest.hexdigest()}"


def _walk_files(top: str, keep_all: bool = False) -> Iterator[tuple[str, str]]:
    """Yields (path relative to top, reason it is skipped or "") for every file below top."""
    if _is_local(top):
        yield from _walk_local(top, keep_all)
        return
    for directory, _, files in tf.io.gfile.walk(top):
        relative_dir = posixpath.relpath(directory, top) if directory != top else ""
        for name in files:
            relative = posixpath.join(relative_dir, name) if relative_dir else name
            yield relative, "" if keep_all else _skip_reason(relative)


def _walk_local(top: str, keep_all: bool) -> Iterator[tuple[str, str]]:
    # os.walk follows symlinked folders (users link data sets in); the set of real
    # paths seen breaks symlink loops, which are reported instead of recursing forever.
    seen: set[str] = set()
    for directory, subdirs, files in os.walk(top, followlinks=True):
        real = os.path.realpath(directory)
        relative_dir = os.path.relpath(directory, top).replace(os.sep, "/")
        relative_dir = "" if relative_dir == "." else relative_dir
        if real in seen:
            subdirs[:] = []
            yield relative_dir + "/", "symlink loop (folder already visited)"
            continue
        seen.add(real)
        subdirs.sort()
        for name in sorted(files):
            relative = f"{relative_dir}/{name}" if relative_dir else name
            yield relative, "" if keep_all else _skip_reason(relative)


def _skip_reason(relative: str) -> str:
    parts = relative.split("/")
    if any(part.startswith(".") for part in parts):
        return "hidden file"
    if not relative.lower().endswith(features.IMAGE_EXTENSIONS):
        return "not an image file extension (" + ", ".join(features.IMAGE_EXTENSIONS) + ")"
    return ""


def _entries(directory: str) -> list[tuple[str, bool]]:
    """(name, is_dir) for the direct children of a directory, sorted by name."""
    if _is_local(directory):
        with os.scandir(directory) as entries:
            return sorted((e.name, e.is_dir()) for e in entries)
    names = tf.io.gfile.listdir(directory)
    return sorted((n.rstrip("/"), tf.io.gfile.isdir(_join(directory, n))) for n in names)


def _is_local(path: str) -> bool:
    return "://" not in path


def _join(base: str, *parts: str) -> str:
    return os.path.join(base, *parts) if _is_local(base) else posixpath.join(base, *parts)
