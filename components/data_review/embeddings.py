"""The space the data review looks in: a pretrained base's pooled features of every image.

The images are decoded and resized by the transform graph's own function
(preprocessing.decode_and_resize), so the review sees what training sees; the base is the
transfer module's (`--base`, `--alpha`, `--cut-layer`, `--weights`), frozen, with its own
preprocessing and global average pooling. Without pretrained weights the features say
nothing about the images, so there is no review (weights_problem says why in one line).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models import imagenet_weights, transfer
from components.transform.preprocessing import decode_and_resize

FEATURE_BATCH = 32
IMAGE, LABEL = "image", "label"  # the keys of a record pooled_features reads


def weights_problem(config: TrainingConfig, image: ImageSpec,
                    probe: Callable[[str], bool] = imagenet_weights.reachable) -> str | None:
    """Why this machine has no pretrained features for config's base, in one line; None
    when it has them (a weights file, or ImageNet weights cached or downloadable)."""
    weights = config.weights
    if weights.lower() == "none":
        return "--weights none: a base with random weights gives no features worth comparing"
    if weights.lower() != "imagenet":
        return None if os.path.isfile(weights) else f"--weights {weights}: no such file"
    url = imagenet_weights.weights_url(config, image)
    if imagenet_weights.cached_path(url) or probe(url):
        return None
    return (f"offline: the ImageNet weights of {config.base} are not in Keras's cache and "
            f"{url.split('/')[2]} cannot be reached; pass --weights FILE (a local .h5)")


def describe(config: TrainingConfig, image: ImageSpec) -> str:
    """The features in a few words: base, alpha, input size, weights."""
    alpha = f" {config.alpha:g}" if config.base == "mobilenet_v2" else ""
    weights = "ImageNet" if config.weights.lower() == "imagenet" else os.path.basename(
        config.weights)
    return f"{config.base}{alpha} at {image.height}x{image.width}, {weights} weights, pooled"


def feature_model(config: TrainingConfig, image: ImageSpec) -> keras.Model:
    """[batch, h, w, c] images in [0, 1] -> the frozen base's pooled features."""
    base = transfer.pretrained_base(config, image)
    base.trainable = False
    images = keras.Input(shape=image.shape)
    x = transfer.GreyToRgb()(images) if image.channels == 1 else images
    x = transfer.PreprocessInput(config.base)(x)
    x = keras.layers.GlobalAveragePooling2D()(base(x, training=False))
    return keras.Model(images, x, name="review_features")


def pooled_features(records: tf.data.Dataset, model: keras.Model, image: ImageSpec,
                    on_batch: Callable[[int], None] | None = None
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The features [n, d] (float32) of a dataset of dicts whose "image" is encoded bytes,
    and the dicts' other (scalar) columns as arrays, in the same order."""
    batches = (records.batch(FEATURE_BATCH)
               .map(lambda batch: {**batch, IMAGE: decode_and_resize(batch[IMAGE], *image.shape)},
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(2))
    found, columns = [], {}
    for batch in batches:
        found.append(model(batch.pop(IMAGE), training=False).numpy().astype(np.float32))
        for key, values in batch.items():
            columns.setdefault(key, []).append(values.numpy())
        if on_batch:
            on_batch(len(found[-1]))
    if not found:
        return np.zeros((0, model.output_shape[-1]), np.float32), {}
    return np.concatenate(found), {key: np.concatenate(v) for key, v in columns.items()}


def encoded_records(images: Iterable[tuple[bytes, int]]) -> tf.data.Dataset:
    """{"image": bytes, "label": id} records from an iterable (read as it is consumed)."""
    return tf.data.Dataset.from_generator(
        lambda: ({IMAGE: data, LABEL: label} for data, label in images),
        output_signature={IMAGE: tf.TensorSpec([], tf.string), LABEL: tf.TensorSpec([], tf.int64)})
