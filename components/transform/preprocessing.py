"""The one preprocessing function: encoded image bytes -> float pixels in [0, 1].

Transform runs `preprocessing_fn` once to build the transform graph; the Trainer's
input pipeline and both serving signatures apply that same graph, so decoding and
resizing cannot differ between training and serving.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from components.common import features
from components.common.image_spec import ImageSpec

JPEG_SCALES = (8, 4, 2)  # libjpeg's DCT scaling factors, largest first


def decode(image_bytes: tf.Tensor, height: int, width: int, channels: int) -> tf.Tensor:
    """One encoded image -> uint8 [h, w, channels], a JPEG at a reduced scale when it is large.

    A JPEG at least 2x the target size in both directions is decoded by libjpeg at 1/2,
    1/4 or 1/8 scale (what PIL's draft mode does for Keras's ImageDataGenerator): the
    DCT does the first, high-quality downsampling for free, and the antialiased resize
    below does the rest. Several times faster on photos, and the same ops run in
    training and serving. Other formats, and small JPEGs, are decoded whole.
    """
    def full() -> tf.Tensor:
        # First frame of an animated GIF; grey/RGBA become RGB (or grey when channels == 1).
        image = tf.io.decode_image(image_bytes, channels=channels, expand_animations=False)
        image.set_shape([None, None, channels])
        return image

    def scaled_jpeg() -> tf.Tensor:
        shape = tf.io.extract_jpeg_shape(image_bytes)
        branches = [
            (tf.logical_and(shape[0] >= scale * height, shape[1] >= scale * width),
             lambda scale=scale: tf.io.decode_jpeg(image_bytes, channels=channels, ratio=scale))
            for scale in JPEG_SCALES
        ]
        return tf.case(branches, default=full, exclusive=False)

    return tf.cond(tf.io.is_jpeg(image_bytes), scaled_jpeg, full)


def decode_and_resize(encoded: tf.Tensor, height: int, width: int, channels: int) -> tf.Tensor:
    """A batch of encoded JPEG/PNG/GIF/BMP bytes [batch] -> float32 [batch, height, width, channels]."""

    def _one(image_bytes: tf.Tensor) -> tf.Tensor:
        image = decode(image_bytes, height, width, channels)
        image = tf.image.convert_image_dtype(image, tf.float32)  # uint8 -> [0, 1]
        image = tf.image.resize(image, [height, width], antialias=True)
        # Round to 8-bit levels: the Trainer caches decoded images as uint8, and with the
        # rounding in the graph that cache is exact, so training sees what serving sees.
        return tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0) / 255.0

    return tf.map_fn(
        _one,
        encoded,
        fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32),
    )


def _dense_vector(tensor: tf.Tensor | tf.SparseTensor, default: Any) -> tf.Tensor:
    """A [batch, 1] dense or sparse feature -> a [batch] dense tensor."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value=default)
    return tf.reshape(tensor, [-1])


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """TFT preprocessing_fn: decode and resize the image; pass the label through when present."""
    image = ImageSpec.from_custom_config(custom_config)
    image_bytes = _dense_vector(inputs[features.IMAGE_BYTES], b"")
    outputs = {features.IMAGE: decode_and_resize(image_bytes, *image.shape)}
    # The serving graph has no label: emitting it only when present lets TFT prune it.
    if features.LABEL in inputs:
        outputs[features.LABEL] = _dense_vector(inputs[features.LABEL], -1)
    return outputs
