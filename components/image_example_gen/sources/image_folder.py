"""Image folders: one sub-folder per class, optionally inside the user's own split folders.

Layout: `<input_base>/<class>/**/<image>`, or `<input_base>/train/<class>/...` and
`<input_base>/{eval,validation,test}/<class>/...`. The class is the first-level folder
below the split root; deeper nesting is allowed. Works on local paths and on any
filesystem TensorFlow's gfile knows (gs://, s3://). A `{SPAN}`/`{VERSION}` pattern in
the path stays in the pipeline: each run reads the newest span (TFX's resolution).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterator

import tensorflow as tf
from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2

from components import features
from components.image_example_gen.layout import WHOLE_TREE, DataError, DataLayout, check_classes
from components.image_example_gen.sources.base import Item, Listing, Source, sort_class_names
from components.image_spec import DEFAULT_IMAGE

# The user's own split folders: output split name -> accepted folder names, in order of preference.
SPLIT_FOLDERS = {"train": ("train",), "eval": ("eval", "validation", "test")}
SPAN_TAGS = ("{SPAN}", "{VERSION}", "{YYYY}", "{MM}", "{DD}")


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
                    listing.items.append(Item(file_path, name))
    listing.items.sort(key=lambda item: item.id)
    return listing


def read(input_base: str, item: Item, image_shape: tuple[int, int, int]) -> bytes:
    """The file's bytes as stored."""
    del image_shape  # files carry their own shape
    with tf.io.gfile.GFile(_join(input_base, item.id), "rb") as f:
        return f.read()


def tree_fingerprint(input_base: str, patterns: list[str]) -> str:
    """A fingerprint of every file (path, size, mtime) below the split roots, at any depth.

    TFX's own fingerprint globs one level only, so a file added or changed in a
    nested class folder would not invalidate the cache; this one walks the tree.
    """
    digest = hashlib.sha256()
    count = total = 0
    for pattern in patterns:
        root = split_root(input_base, pattern)
        if not tf.io.gfile.isdir(root):  # a file that is its own split (a CSV)
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


# ---- the layout ------------------------------------------------------------------------

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


def _span_layout(data: str) -> DataLayout:
    """Data below a span/version pattern: the pattern stays in the pipeline (each run takes
    the newest span); classes and split folders come from the newest span now."""
    base, pattern = split_span_path(data)
    resolved = latest_span_folder(base, pattern)
    current = discover(split_root(base, resolved))
    if current.split_folders:
        folders = {split: f"{pattern}/{folder}" for split, folder in current.split_folders.items()}
        return DataLayout(base, current.class_names, folders)
    return DataLayout(base, current.class_names, input_pattern=pattern)


def discover(data: str, eval_data: str | None = None) -> DataLayout:
    """A class-per-folder tree, optionally inside train/ and eval|validation|test/."""
    if eval_data:
        raise DataError("--eval-data is for CSV data; image folders split with train/ and eval/")
    if any(tag in data for tag in SPAN_TAGS):
        return _span_layout(data)
    if _is_local(data) and not os.path.exists(data):
        raise DataError(f"{data}: no such folder")
    if _is_local(data) and not os.path.isdir(data):
        raise DataError(f"{data}: not a folder (expected one sub-folder of images per class; "
                        "for a CSV of pixels use --data-format csv)")
    split_folders = find_split_folders(data)
    patterns = list(split_folders.values()) if split_folders else [WHOLE_TREE]
    class_names = sort_class_names(
        item.class_name for p in patterns for item in list_split(data, p).items)
    check_classes(data, class_names, "images found (expected <class>/<image> with extensions "
                  "jpg, jpeg, png, gif or bmp)")
    return DataLayout(data, class_names, split_folders)


def default_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Folders of photos train at the course's 150 x 150 RGB unless told otherwise."""
    del image_shape  # the CSV row layout; files carry their own
    return DEFAULT_IMAGE.shape


# ---- walking the tree ------------------------------------------------------------------

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


SOURCE = Source(
    name="folder",
    discover=discover, list_split=list_split, read=read, fingerprint=tree_fingerprint,
    default_shape=default_shape,
)
