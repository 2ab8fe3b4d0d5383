"""Image folders: one sub-folder per class, optionally inside the user's own split folders.

Layout: `<input_base>/<class>/**/<image>`, or split folders holding class folders, under
the spellings the ecosystem's data sets and tools use, in any letter case: a training
folder (train, training, training_set, seg_train, ...) with a validation folder (val,
valid, validation, eval, dev, ...) and/or a test folder (test, testing, test_set, ...):
the Keras/TF tutorials (train/ + validation/), torchvision's ImageFolder and ImageNet
(train/ + val/), Ultralytics (train/ + val/ + test/), Roboflow exports (train/ + valid/ +
test/), Kaggle sets (training_set/ + test_set/, Training/ + Testing/, seg_train/ +
seg_test/). Folders that look like split names but do not form such a layout stop the
run with one line; split names never become class names. The class is the first-level
folder below the split root; deeper nesting is allowed. Works on local paths and on any
filesystem TensorFlow's gfile knows (gs://, s3://). A `{SPAN}`/`{VERSION}` pattern in
the path stays in the pipeline: each run reads the newest span (TFX's resolution).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterator

import tensorflow as tf

from components.common import features
from components.common.image_spec import DEFAULT_IMAGE
from components.common.paths import is_local, join
from components.image_example_gen.layout import (
    DEFAULT_SPLIT_RATIO,
    SPAN_TAGS,
    TEST,
    TRAIN,
    VALIDATION,
    WHOLE_TREE,
    DataError,
    DataLayout,
    InputSplit,
    check_classes,
    check_split_classes,
    hash_split,
    latest_span_folder,
    ratio_text,
)
from components.image_example_gen.sources.base import (
    Item,
    Listing,
    Source,
    declared_layout,
    sort_class_names,
)

# A folder name is a split name when its words (split at spaces, '_', '-', '.') are one
# role's words plus, optionally, filler words: "Training_Set", "seg_test", "val images".
ROLE_WORDS = {
    TRAIN: {"train", "training", "trn", "trainset", "trainingset", "traindata"},
    VALIDATION: {"val", "valid", "validation", "eval", "evaluation", "dev", "valset",
                 "validset", "validationset"},
    TEST: {"test", "testing", "tst", "testset", "testdata", "holdout"},
}
FILLER_WORDS = {"set", "sets", "data", "dataset", "images", "imgs", "img", "split", "seg",
                "photos", "pictures", "files"}


def split_role(folder: str) -> str | None:
    """The role a folder's name gives it (train, validation or test), or None for other names."""
    words = [w for w in re.split(r"[\s_\-.]+", folder.casefold()) if w]
    roles = {role for word in words for role, names in ROLE_WORDS.items() if word in names}
    others = [w for w in words if w not in FILLER_WORDS
              and not any(w in names for names in ROLE_WORDS.values())]
    return roles.pop() if len(roles) == 1 and not others else None


def find_split_folders(input_base: str) -> dict[str, str]:
    """{role: folder} for the first-level folders named like splits; {} when there are none.

    DataError when split-like folders do not form a usable layout (no training folder, a
    training folder alone, two folders for one role).
    """
    folders = [name for name, is_dir in _entries(input_base) if is_dir and not name.startswith(".")]
    by_role: dict[str, list[str]] = {}
    for folder in folders:
        role = split_role(folder)
        if role:
            by_role.setdefault(role, []).append(folder)
    if not by_role:
        return {}
    named = ", ".join(f"{f}/" for names in by_role.values() for f in names)
    for role, names in by_role.items():
        if len(names) > 1:
            raise DataError(f"{input_base}: {' and '.join(f'{n}/' for n in names)} both look like "
                            f"the {role} split; keep one")
    if TRAIN not in by_role:
        raise DataError(f"{input_base}: {named} look like split folders, but there is no "
                        "training folder (train/) beside them; add one, or rename the folders "
                        "if they are classes")
    if len(by_role) == 1:
        raise DataError(f"{input_base}: {named} looks like a split folder, but there is no "
                        f"validation or test folder beside it: point --data at "
                        f"{join(input_base, by_role[TRAIN][0])} to hash-split it, or add "
                        "val/ or test/")
    return {role: names[0] for role, names in by_role.items()}


def split_root(input_base: str, pattern: str) -> str:
    """The folder a split pattern names below the input base."""
    return input_base if pattern in ("", WHOLE_TREE) else join(input_base, pattern)


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
            for relative, reason in _walk_files(join(root, name)):
                file_path = f"{path}/{relative}"
                if reason:
                    listing.ignored.append({"path": file_path, "reason": reason})
                else:
                    listing.items.append(Item(file_path, name))
    listing.items.sort(key=lambda item: item.id)
    return listing


def read(input_base: str, item: Item, image_shape: tuple[int, int, int]) -> bytes:
    """The file's bytes as stored.

    Local files through Python's own open: gfile's reader costs several times as much per
    photo, and the ExampleGen may read each file twice.
    """
    del image_shape  # files carry their own shape
    path = join(input_base, item.id)
    with open(path, "rb") if is_local(path) else tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def size(input_base: str, item: Item) -> int:
    """The file's size in bytes."""
    path = join(input_base, item.id)
    if is_local(path):
        return os.path.getsize(path)
    try:
        return tf.io.gfile.stat(path).length
    except tf.errors.OpError as error:
        raise OSError(error.message) from error


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
            stat = tf.io.gfile.stat(join(root, relative))
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


def _span_layout(data: str, ratio: tuple[int, int, int]) -> DataLayout:
    """Data below a span/version pattern: the pattern stays in the pipeline (each run takes
    the newest span); classes and split folders come from the newest span now."""
    base, pattern = split_span_path(data)
    resolved = latest_span_folder(base, pattern)
    current = discover(split_root(base, resolved), split_ratio=ratio)
    inputs = tuple(InputSplit(split.name, pattern if split.pattern == WHOLE_TREE
                              else f"{pattern}/{split.pattern}", split.shares)
                   for split in current.inputs)
    return DataLayout(base, current.class_names, inputs,
                      f"{pattern}/ (newest: {resolved}/): {current.description}",
                      current.warnings)


def _classes_of(data: str, pattern: str) -> list[str]:
    return sort_class_names(item.class_name for item in list_split(data, pattern).items)


def discover(data: str, validation_data: str | None = None, test_data: str | None = None,
             split_ratio: tuple[int, int, int] = DEFAULT_SPLIT_RATIO) -> DataLayout:
    """A class-per-folder tree (hash-split three ways), or the user's split folders."""
    if validation_data or test_data:
        raise DataError("--validation-data and --test-data are for CSV data; image folders "
                        "split with train/, val/ and test/ folders")
    if any(tag in data for tag in SPAN_TAGS):
        return _span_layout(data, split_ratio)
    if is_local(data) and not os.path.exists(data):
        raise DataError(f"{data}: no such folder")
    if is_local(data) and not os.path.isdir(data):
        raise DataError(f"{data}: not a folder (expected one sub-folder of images per class; "
                        "for a CSV of pixels use --data-format csv)")
    folders = find_split_folders(data)
    if not folders:
        return _class_tree(data, split_ratio)
    classes = {role: _classes_of(data, folder) for role, folder in folders.items()}
    for role, folder in folders.items():
        if not classes[role]:
            raise DataError(f"{join(data, folder)}: no class folders with images (expected "
                            f"{folder}/<class>/<image>)")
    warnings = check_split_classes(data, {f"{folders[r]}/": c for r, c in classes.items()},
                                   f"{folders[TRAIN]}/")
    class_names = classes[TRAIN]
    check_classes(data, class_names, "class folders with images in the training folder")
    others = sorted(name for name, is_dir in _entries(data) if is_dir and not name.startswith(".")
                    and name not in folders.values())
    if others:
        warnings.append(f"ignored folder(s) beside the split folders: "
                        f"{', '.join(f + '/' for f in others)}")
    inputs, parts = [], []
    if VALIDATION in folders:
        inputs.append(InputSplit(TRAIN, folders[TRAIN], ((TRAIN, 100),)))
        inputs.append(InputSplit(VALIDATION, folders[VALIDATION], ((VALIDATION, 100),)))
        parts += [f"{folders[TRAIN]}/", f"{folders[VALIDATION]}/"]
    else:  # carve the validation split out of the training folder, as the ratio says
        carved = InputSplit(TRAIN, folders[TRAIN], ((TRAIN, split_ratio[0]),
                                                    (VALIDATION, split_ratio[1] or 10)))
        inputs.append(carved)
        parts.append(f"{folders[TRAIN]}/ (hash-split {ratio_text(carved.shares)})")
    if TEST in folders:
        inputs.append(InputSplit(TEST, folders[TEST], ((TEST, 100),)))
        parts.append(f"{folders[TEST]}/")
    else:
        warnings.append("no test split: the blessing is measured on the validation split, "
                        "which also chose the model (early stopping), so it is optimistic")
    return DataLayout(data, class_names, tuple(inputs), " + ".join(parts), tuple(warnings))


def _class_tree(data: str, split_ratio: tuple[int, int, int]) -> DataLayout:
    """No split folders: every first-level folder is a class; the hash split makes the roles."""
    folders = [name for name, is_dir in _entries(data) if is_dir and not name.startswith(".")]
    class_names = _classes_of(data, WHOLE_TREE)
    if len(folders) == 1 and find_split_folders(join(data, folders[0])):
        raise DataError(f"{data}: the split folders are one level down, in {folders[0]}/: "
                        f"use --data {join(data, folders[0])}")
    check_classes(data, class_names, "images found (expected <class>/<image> with extensions "
                  "jpg, jpeg, png, gif or bmp)")
    split = hash_split("all", WHOLE_TREE, split_ratio)
    return DataLayout(data, class_names, (split,),
                      f"one folder per class, hash-split {ratio_text(split.shares)}")


def declare(data: str, class_names: list[str],
            split_ratio: tuple[int, int, int] = DEFAULT_SPLIT_RATIO) -> DataLayout:
    """Class folders that cannot be listed from here (a bucket): one folder per class below
    data (or below each span of a {SPAN} pattern), hash-split."""
    base, pattern = (split_span_path(data) if any(tag in data for tag in SPAN_TAGS)
                     else (data.rstrip("/"), WHOLE_TREE))
    return declared_layout(base, pattern, class_names, split_ratio, "one folder per class")


def default_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Folders of photos train at the course's size (DEFAULT_IMAGE) unless told otherwise."""
    del image_shape  # the CSV row layout; files carry their own
    return DEFAULT_IMAGE.shape


# ---- walking the tree ------------------------------------------------------------------

def _walk_files(top: str, keep_all: bool = False) -> Iterator[tuple[str, str]]:
    """Yields (path relative to top, reason it is skipped or "") for every file below top."""
    if is_local(top):
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
    if is_local(directory):
        with os.scandir(directory) as entries:
            return sorted((e.name, e.is_dir()) for e in entries)
    names = tf.io.gfile.listdir(directory)
    return sorted((n.rstrip("/"), tf.io.gfile.isdir(join(directory, n))) for n in names)


SOURCE = Source(
    name="folder",
    discover=discover, list_split=list_split, read=read, size=size,
    fingerprint=tree_fingerprint,
    default_shape=default_shape, declare=declare,
)
