"""Where the Trainer keeps the decoded pixels: in memory up to a budget, else on local disk.

Decoding and resizing each image once per run, then augmenting the cached uint8 pixels
every epoch, is what makes the training input fast; in memory, that cache grows with the
data (100,000 images at 224 px are about 15 GB). Up to a budget (`--cache-memory`; by
default half of the memory available to this process, a container's cgroup limit
included) a split's pixels stay in memory; beyond it they go to a scratch folder on local
disk, removed after the run.

On disk: sharded files of fixed-length raw records (the image's bytes, then its label), each
image written to a pseudo-random shard so every shard is a sample of the whole split,
then each shard (a bounded size) permuted in memory and rewritten, so its records are
in random order too (an external shuffle); every epoch reads the shards in a fresh
random order, interleaved, into the shuffle buffer, so batches mix the whole split,
not a window of the order the images were written in (a folder walk gives them class
by class). Raw and uncompressed, so reading costs no decoding.
Chosen over tf.data's `cache(filename)` (one file in write order: the shuffle buffer
would only mix a window) and `snapshot` (compressed, its own layout).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import psutil
import tensorflow as tf

from components.trainer.cache_memory import parse_size

SHARD_BYTES = 128 * 1024 * 1024  # a shard of about this size; between 8 and 256 shards
MIN_SHARDS, MAX_SHARDS = 8, 1024
INTERLEAVE = 8  # shards read at once
READ_BUFFER_BYTES = 4 * 1024 * 1024  # per shard being read
READ_BATCH = 64  # records split into pixels and label at once
SHARD_SUFFIX = ".pixels"
SCRATCH_MARGIN = 1.05  # a little room above the pixels' own size
_LABEL_BYTES = 8


class ScratchSpaceError(RuntimeError):
    """The scratch disk cannot hold the decode cache; the message names folder, need and room."""


def _cgroup_room() -> int | None:
    """Bytes the process's cgroup still allows (limit minus usage), when it has a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except OSError:
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # "max" or a huge number: no limit
            return max(0, int(limit) - usage)
    return None


def available_memory() -> tuple[int, str]:
    """Bytes this process can still use, and where the figure comes from."""
    system = psutil.virtual_memory().available
    cgroup = _cgroup_room()
    if cgroup is not None and cgroup < system:
        return cgroup, "the container's memory limit"
    return system, "this machine"


class Budget(NamedTuple):
    """The memory the decode cache may use: bytes, why (for the console), and whether it was
    measured now (auto: half of what is available) rather than given."""

    bytes: int
    why: str
    measured: bool


def memory_budget(setting: str) -> Budget:
    """The decode cache's memory budget: the --cache-memory size, or half what is available."""
    size = parse_size(setting)
    if size is not None:
        return Budget(size, f"--cache-memory {setting}", False)
    room, source = available_memory()
    return Budget(room // 2, f"half of the {_gb(room)} available to {source}", True)


def free_bytes(folder: str) -> int:
    """Free bytes on the filesystem holding folder."""
    return shutil.disk_usage(folder).free


def check_scratch(folder: str, needed: int,
                  free_probe: Callable[[str], int] | None = None) -> None:
    """ScratchSpaceError (one line) unless the folder's filesystem can hold needed bytes."""
    os.makedirs(folder, exist_ok=True)
    room = (free_probe or free_bytes)(folder)
    if room < needed * SCRATCH_MARGIN:
        raise ScratchSpaceError(
            f"{folder}: the decode cache needs {needed:,} bytes ({_gb(needed)}) on disk, "
            f"{room:,} bytes ({_gb(room)}) are free; give --cache-dir a larger disk or "
            "--cache-memory more memory")


@dataclasses.dataclass(frozen=True)
class CachePlan:
    """Where each split's pixels go (None: memory; else a folder), and why, for the console."""

    folders: dict[str, str | None]
    scratch: str | None  # the run's scratch folder, removed afterwards
    reasons: list[str]


def disk_path_memory(split_bytes: int, shuffle_bytes: int) -> int:
    """What the disk path itself holds in memory for a split of split_bytes: a shard being
    permuted as it is written (read, and its permuted copy), the interleaved readers'
    buffers, and the shuffle buffer's decoded images (shuffle_bytes)."""
    shard = split_bytes / shard_count(split_bytes)
    return int(2 * shard) + INTERLEAVE * READ_BUFFER_BYTES + shuffle_bytes


def plan(split_bytes: dict[str, int], setting: str, cache_dir: str | None = None,
         free_probe: Callable[[str], int] | None = None, shuffle_bytes: int = 0) -> CachePlan:
    """In memory while the splits fit the budget (in order: training first); the rest on disk
    in a new folder below cache_dir (default: the system's temporary folder), whose room
    is checked now, before anything is decoded.

    The budget also pays for the disk path's own buffers (disk_path_memory, once: splits
    are written one after another) as soon as a split goes to disk, so a split after it
    stays in memory only if it fits what is left: the cache's memory is the budget's,
    whatever the data size (BENCHMARKS.md, "The Trainer's peak memory as the data grows").
    """
    budget, why, _ = memory_budget(setting)
    left, folders, reasons, on_disk, reserved = budget, {}, [], 0, 0
    for split, size in split_bytes.items():
        if size <= left:
            folders[split] = None
            left -= size
            less = f"; less {_gb(reserved)} for the disk path's buffers" if reserved else ""
            reasons.append(f"{split}: {_gb(size)} of pixels in memory (budget {_gb(budget)}, "
                           f"{why}{less})")
        else:
            folders[split] = split
            on_disk += size
            if not reserved:
                reserved = disk_path_memory(size, shuffle_bytes)
                left = max(0, left - reserved)
    scratch = None
    if on_disk:
        root = cache_dir or tempfile.gettempdir()
        os.makedirs(root, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix="visionpipe-decode-cache-", dir=root)
        try:
            check_scratch(scratch, on_disk, free_probe)
        except ScratchSpaceError:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        for split, size in split_bytes.items():
            if folders[split] is not None:
                folders[split] = os.path.join(scratch, split)
                os.makedirs(folders[split])
                reasons.append(f"{split}: {_gb(size)} of pixels on disk in {folders[split]} "
                               f"(over the memory budget of {_gb(budget)}, {why})")
    return CachePlan(folders, scratch, reasons)


def shard_count(total_bytes: int) -> int:
    return int(min(MAX_SHARDS, max(MIN_SHARDS, math.ceil(total_bytes / SHARD_BYTES))))


def write_shards(images: tf.data.Dataset, folder: str, total_bytes: int,
                 seed: int) -> tuple[list[str], int]:
    """Writes (uint8 image, int64 label) elements to shards in folder; returns the shard
    files and how many images they hold.

    Each image goes to a pseudo-random shard (seeded), so every shard samples the split;
    then each shard's records are put in a random order (one shard in memory at a time).
    """
    count = shard_count(total_bytes)
    paths = [os.path.join(folder, f"pixels-{i:05d}{SHARD_SUFFIX}") for i in range(count)]
    rng = np.random.default_rng(seed)
    written, record_bytes = 0, 0
    with contextlib.ExitStack() as stack:
        shards = [stack.enter_context(open(path, "wb")) for path in paths]
        for pixels, labels in images.batch(256).as_numpy_iterator():
            records = _records(pixels, labels)
            record_bytes = records.shape[1]
            written += len(records)
            for record, shard in zip(records, rng.integers(0, count, len(records)), strict=True):
                shards[shard].write(record.data)
    for path in paths:
        _permute_records(path, record_bytes, rng)
    return paths, written


def _records(pixels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A batch of images and labels -> one row of bytes per image: its pixels, then its label."""
    labels = labels.astype("<i8").reshape(-1, 1).view(np.uint8)
    return np.concatenate([pixels.reshape(len(pixels), -1), labels], axis=1)


def _permute_records(path: str, record_bytes: int, rng: np.random.Generator) -> None:
    if not record_bytes or not os.path.getsize(path):
        return
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, record_bytes)
    records[rng.permutation(len(records))].tofile(path)


def read_shards(paths: list[str], shape: tuple[int, int, int], shuffle: bool,
                seed: int) -> tf.data.Dataset:
    """(uint8 image, int64 label) from the shards: for training, the shards in a new random
    order every epoch, interleaved; for evaluation, in order.

    Fixed-length raw records (no framing or checksums to verify per image), read in large
    buffered blocks and split into pixels and label a block of READ_BATCH records at a time:
    per-image work in tf.data is what made a first, TFRecord-based version read at about
    half the in-memory cache's rate.
    """
    pixel_bytes = int(np.prod(shape))
    record_bytes = pixel_bytes + _LABEL_BYTES
    files = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    records = files.interleave(
        lambda path: tf.data.FixedLengthRecordDataset(
            path, record_bytes, buffer_size=READ_BUFFER_BYTES).batch(READ_BATCH),
        cycle_length=min(INTERLEAVE, len(paths)), block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)

    def _split(block: tf.Tensor):
        raw = tf.io.decode_raw(block, tf.uint8)  # [records, record_bytes]
        images = tf.reshape(raw[:, :pixel_bytes], (-1, *shape))
        labels = tf.bitcast(tf.reshape(raw[:, pixel_bytes:], [-1, _LABEL_BYTES]), tf.int64)
        return images, labels

    return records.map(_split, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


def _gb(count: int) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e8 else f"{count / 1e6:.1f} MB"
