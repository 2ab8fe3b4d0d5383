"""The Trainer's tf.data input: Examples -> transform graph -> cached uint8 pixels -> batches.

Transform is run with materialize=False (float images on disk would be many times
the JPEG bytes, tfx#2207), so the transform graph is applied here, once per run:
each image is decoded and resized once, up front, cached as uint8 at the target size
(in memory, or on local disk beyond the memory budget: decode_cache.py), and every epoch
reads the cache. Random augmentation (when a model asks for it) is applied to the cached
pixels per epoch, on the training split only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components.common import features
from components.trainer import decode_cache

MEMORY = "memory"

progress = logging.getLogger("visionpipe.progress")

AUTOTUNE = tf.data.AUTOTUNE
_DECODE_BATCH = 64
_FILL_BATCH = 1024
_SHUFFLE_BUFFER = 2048

Augment = Callable[[tf.Tensor], tf.Tensor]  # uint8 [batch, h, w, c] -> float32 in [0, 1]


def _raw_spec(tf_transform_output: tft.TFTransformOutput) -> dict:
    raw = tf_transform_output.raw_feature_spec()
    return {key: raw[key] for key in (features.IMAGE_BYTES, features.LABEL)}


@dataclasses.dataclass(frozen=True)
class DecodedImages:
    """A split's decoded pixels, (uint8 image, int64 label), wherever they are kept."""

    training: tf.data.Dataset  # in memory: the cache; on disk: the shards, reordered every epoch
    evaluation: tf.data.Dataset  # in a fixed order
    count: int
    location: str  # MEMORY, or the scratch folder


def split_files(file_patterns: list[str]) -> list[str]:
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {file_patterns}")
    return files


def _split_report(file_patterns: list[str], key: str):
    """The ExampleGen's report's entry key for this split (its folder is
    `<examples>/Split-<name>/`, the report beside it), or None."""
    split_dir = os.path.dirname(file_patterns[0])
    report = os.path.join(os.path.dirname(split_dir), features.QUARANTINE_REPORT_FILE)
    if not tf.io.gfile.exists(report):
        return None
    with tf.io.gfile.GFile(report) as f:
        return json.load(f).get(key, {}).get(os.path.basename(split_dir).removeprefix("Split-"))


def example_count(file_patterns: list[str]) -> int:
    """How many Examples a split holds: from the ExampleGen's report, else by counting."""
    count = _split_report(file_patterns, "examples_per_split")
    if count is not None:
        return int(count)
    records = tf.data.TFRecordDataset(split_files(file_patterns), compression_type="GZIP")
    return int(records.reduce(tf.constant(0, tf.int64), lambda total, _: total + 1))


def class_counts(file_patterns: list[str], class_names: list[str]) -> list[int]:
    """Examples per class id in a split: from the ExampleGen's report, else by reading the
    labels (Examples of an older ExampleGen)."""
    counts = _split_report(file_patterns, features.CLASS_COUNTS_PROPERTY)
    if counts is not None:
        return [int(counts.get(name, 0)) for name in class_names]
    labels = tf.data.TFRecordDataset(split_files(file_patterns), compression_type="GZIP").map(
        lambda record: tf.io.parse_single_example(
            record, {features.LABEL: tf.io.FixedLenFeature([], tf.int64)})[features.LABEL])
    found = np.zeros(len(class_names), int)
    for batch in labels.batch(4096):
        np.add.at(found, batch.numpy(), 1)
    return found.tolist()


def image_shape(tf_transform_output: tft.TFTransformOutput) -> tuple[int, int, int]:
    """The transformed image's [height, width, channels]."""
    spec = tf_transform_output.transformed_feature_spec()[features.IMAGE]
    return tuple(int(d) for d in spec.shape)


def pixel_bytes(count: int, shape: tuple[int, int, int]) -> int:
    return int(count * np.prod(shape))


def decoded_images(
    file_patterns: list[str], tf_transform_output: tft.TFTransformOutput,
    scratch: str | None = None, seed: int = 42,
) -> DecodedImages:
    """(uint8 image [h, w, c], int64 label) for every Example, decoded now and cached: in memory,
    or with scratch, in shard files in that folder (decode_cache.py)."""
    files = split_files(file_patterns)
    transform = tf_transform_output.transform_features_layer()
    spec = _raw_spec(tf_transform_output)

    def _transform(serialized: tf.Tensor):
        transformed = transform(tf.io.parse_example(serialized, spec))
        # Cache 1 byte per channel instead of 4: the pixels came from 8-bit files.
        pixels = tf.image.convert_image_dtype(transformed[features.IMAGE], tf.uint8, saturate=True)
        return pixels, tf.reshape(transformed[features.LABEL], [-1])

    decoded = (
        tf.data.TFRecordDataset(files, compression_type="GZIP", num_parallel_reads=AUTOTUNE)
        .batch(_DECODE_BATCH)
        .map(_transform, num_parallel_calls=AUTOTUNE)
        .unbatch()
    )
    if scratch is not None:
        shape = image_shape(tf_transform_output)
        expected = pixel_bytes(example_count(file_patterns), shape)
        shards, count = decode_cache.write_shards(decoded, scratch, expected, seed)
        return DecodedImages(decode_cache.read_shards(shards, shape, shuffle=True, seed=seed),
                             decode_cache.read_shards(shards, shape, shuffle=False, seed=seed),
                             count, scratch)
    cached = decoded.cache()
    # Fill the cache now rather than inside the first training epoch: that epoch's iterator
    # would own the decoding pipeline, and tf.data's autotuner then holds up the iterator's
    # teardown by a fraction of a second in about half the runs (2 cores, TF 2.16).
    count = 0
    for pixels, _ in cached.batch(_FILL_BATCH):
        count += int(pixels.shape[0])
    return DecodedImages(cached, cached, count, MEMORY)


@contextlib.contextmanager
def cached_splits(
    splits: dict[str, list[str]], tf_transform_output: tft.TFTransformOutput,
    cache_memory: str, cache_dir: str | None = None, seed: int = 42,
    free_probe: Callable[[str], int] | None = None,
) -> Iterator[dict[str, DecodedImages]]:
    """{split: DecodedImages} for {split: file patterns}, each split's pixels in memory or on
    local disk as the budget allows (decode_cache.plan: checked before anything is decoded);
    the scratch folder is removed when the block ends, however it ends."""
    shape = image_shape(tf_transform_output)
    counts = {name: example_count(patterns) for name, patterns in splits.items()}
    sizes = {name: pixel_bytes(count, shape) for name, count in counts.items()}
    shuffled = pixel_bytes(min(_SHUFFLE_BUFFER, max(counts.values(), default=0)), shape)
    cache_plan = decode_cache.plan(sizes, cache_memory, cache_dir, free_probe, shuffled)
    for reason in cache_plan.reasons:
        progress.info("decode cache: %s", reason)
    try:
        decoded = {}
        for name, patterns in splits.items():
            started = time.perf_counter()
            decoded[name] = decoded_images(patterns, tf_transform_output,
                                           scratch=cache_plan.folders[name], seed=seed)
            progress.info("decoded %d %s images once (%.1f s), kept in %s", decoded[name].count,
                          name, time.perf_counter() - started, decoded[name].location)
        yield decoded
    finally:
        if cache_plan.scratch:
            shutil.rmtree(cache_plan.scratch, ignore_errors=True)


def to_float(pixels: tf.Tensor) -> tf.Tensor:
    """uint8 pixels -> float32 in [0, 1], the scale the transform graph produces."""
    return tf.image.convert_image_dtype(pixels, tf.float32)


def training_batches(
    cached: tf.data.Dataset,
    batch_size: int,
    augment: Augment | None = None,
    repeat: bool = False,
    seed: int = 42,
) -> tf.data.Dataset:
    """Shuffled batches of the cached images, freshly augmented every epoch when asked."""
    dataset = cached.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    convert = augment or to_float
    dataset = dataset.batch(batch_size).map(
        lambda pixels, label: (convert(pixels), label), num_parallel_calls=AUTOTUNE
    )
    return dataset.prefetch(AUTOTUNE)


def evaluation_batches(cached: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Batches of the cached images in file order: never shuffled, never augmented."""
    return (
        cached.batch(batch_size)
        .map(lambda pixels, label: (to_float(pixels), label), num_parallel_calls=AUTOTUNE)
        .prefetch(AUTOTUNE)
    )
