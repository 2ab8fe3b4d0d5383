"""Random image augmentation for the training input, fresh every epoch.

The course's ImageDataGenerator (rotation, shifts, shear, zoom, flips, 'nearest' fill)
as one affine matrix per image, composed from all the random parts and applied in a
single bilinear resampling pass. tf-keras's RandomRotation/RandomTranslation/RandomZoom
layers each resample the whole image, several times the cost (../shared/TFX-NOTES.md).

This runs in the tf.data input of the training split only: it never touches
validation or evaluation data, and none of its ops (a NumPy function calling OpenCV)
reach the exported serving graph.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

from components.trainer.hparams import Augmentation


def _uniform(batch: tf.Tensor, limit: float) -> tf.Tensor:
    return tf.random.uniform([batch], -limit, limit)


def affine_transforms(config: Augmentation, batch: tf.Tensor, height: tf.Tensor,
                      width: tf.Tensor) -> tf.Tensor:
    """[batch, 8] transforms (output -> input pixel) in ImageProjectiveTransformV3's layout.

    Composed like Keras's apply_affine_transform: rotation @ shear @ zoom about the
    image centre, then a shift. Flips are folded in as negative zoom, so they cost
    nothing extra.
    """
    height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    theta = _uniform(batch, math.radians(config.rotation))
    shear = _uniform(batch, math.radians(config.shear))
    zoom_x = 1.0 + _uniform(batch, config.zoom)
    zoom_y = 1.0 + _uniform(batch, config.zoom)
    if config.horizontal_flip:
        zoom_x *= tf.where(tf.random.uniform([batch]) < 0.5, -1.0, 1.0)
    if config.vertical_flip:
        zoom_y *= tf.where(tf.random.uniform([batch]) < 0.5, -1.0, 1.0)
    shift_x = _uniform(batch, config.width_shift) * width
    shift_y = _uniform(batch, config.height_shift) * height
    cos, sin = tf.cos(theta), tf.sin(theta)
    # rotation @ shear: [[cos, -sin(theta + shear)], [sin, cos(theta + shear)]], then zoom columns.
    a0 = cos * zoom_x
    a1 = -tf.sin(theta + shear) * zoom_y
    b0 = sin * zoom_x
    b1 = tf.cos(theta + shear) * zoom_y
    centre_x, centre_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    a2 = centre_x - a0 * centre_x - a1 * centre_y + shift_x
    b2 = centre_y - b0 * centre_x - b1 * centre_y + shift_y
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def _warp_with_opencv(images: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """cv2.warpAffine of each image: bilinear, border replicated (the generator's 'nearest')."""
    warped = np.empty_like(images)
    height, width = images.shape[1:3]
    for index, matrix in enumerate(transforms[:, :6].reshape(-1, 2, 3)):
        result = cv2.warpAffine(images[index], matrix, (width, height),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
        warped[index] = result.reshape(warped.shape[1:])  # OpenCV drops a single channel axis
    return warped


def affine_warp(images: tf.Tensor, transforms: tf.Tensor) -> tf.Tensor:
    """Resamples [batch, h, w, c] images (c <= 4) through affine transforms; same dtype out.

    Bilinear with 'nearest' fill: the result of tf.raw_ops.ImageProjectiveTransformV3
    (BILINEAR, fill NEAREST) to within OpenCV's 1/32-pixel interpolation steps. OpenCV
    rather than that kernel because on 2 CPU cores its vectorised warpAffine resamples
    about 3x as many images per second (BENCHMARKS.md); it releases the GIL, so the
    tf.data map still runs it on every core.
    """
    warped = tf.numpy_function(_warp_with_opencv, [images, transforms], images.dtype,
                               stateful=False)
    warped.set_shape(images.shape)
    return warped


def augment_batch(images: tf.Tensor, config: Augmentation) -> tf.Tensor:
    """Randomly augments a batch [batch, h, w, c]; a new draw on every call.

    Takes uint8 pixels (cached at a quarter of the memory of floats) or floats in [0, 1];
    returns float32 in [0, 1]. config's ranges must be set (Augmentation.resolved_by).
    """
    if not config.is_resolved():
        raise ValueError(f"augment_batch needs every augmentation range set, got {config}")
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    images = affine_warp(images, affine_transforms(config, batch, height, width))
    images = tf.image.convert_image_dtype(images, tf.float32)
    if not (config.brightness or config.contrast):
        return images  # resampling [0, 1] pixels (or uint8) stays within [0, 1]
    if config.brightness:
        images = images * (1.0 + tf.reshape(_uniform(batch, config.brightness), [-1, 1, 1, 1]))
    if config.contrast:
        mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
        factor = 1.0 + tf.reshape(_uniform(batch, config.contrast), [-1, 1, 1, 1])
        images = (images - mean) * factor + mean
    return tf.clip_by_value(images, 0.0, 1.0)
