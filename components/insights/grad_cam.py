"""Where the model looked: Grad-CAM heatmaps (Selvaraju et al., 2017) over eval images.

The heat of an image for a class is the last feature map (the last convolution of a
CNN, the output of a transfer base) weighted by the class score's mean gradient over
each channel, kept where positive and scaled to [0, 1], then resized to the image.
Written by hand: tf-keras has no Grad-CAM, and the recipe is a dozen lines of
GradientTape around the split model (classifier.split_after).
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.trainer.models.classifier import split_after

GRAD_CAM_PREFIX = "grad_cam_"
PER_CLASS = 2  # correct and mistaken eval images shown per class, each
_FEATURE_KINDS = (keras.layers.Conv2D, keras.Model)  # a conv layer, or a nested (transfer) base


def last_feature_layer(model: keras.Model) -> int:
    """The index of the last layer with a spatial output: a conv layer or a nested base."""
    for index in reversed(range(len(model.layers) - 1)):
        layer = model.layers[index]
        if isinstance(layer, _FEATURE_KINDS) and len(model.layers[index + 1].input.shape) == 4:
            return index
    raise ValueError(f"{model.name} has no convolution to look through")


def heatmaps(model: keras.Model, images: np.ndarray, class_ids: np.ndarray,
             batch_size: int = 32) -> np.ndarray:
    """Grad-CAM of images (float [n, h, w, c] in [0, 1]) for class_ids: float [n, h, w] in [0, 1].

    The split model is built once and the images go through it batch_size at a time.
    """
    front, back = split_after(model, last_feature_layer(model))
    return np.concatenate([
        _heat(front, back, images[start:start + batch_size], class_ids[start:start + batch_size])
        for start in range(0, len(images), batch_size)])


def _heat(front: keras.Model, back: keras.Model, images: np.ndarray,
          class_ids: np.ndarray) -> np.ndarray:
    maps = tf.cast(front(images, training=False), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(maps)
        scores = tf.cast(back(maps, training=False), tf.float32)
        if scores.shape[-1] == 1:  # one sigmoid unit: class 1 raises it, class 0 lowers it
            sign = tf.where(tf.constant(class_ids) == 1, 1.0, -1.0)
            target = scores[:, 0] * sign
        else:
            target = tf.gather(scores, tf.constant(class_ids, tf.int32), batch_dims=1)
    gradients = tape.gradient(target, maps)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    heat = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)).numpy()
    peaks = heat.max(axis=(1, 2), keepdims=True)
    heat = np.divide(heat, peaks, out=np.zeros_like(heat), where=peaks > 0)
    height, width = images.shape[1:3]
    return np.stack([cv2.resize(h, (width, height), interpolation=cv2.INTER_LINEAR) for h in heat])


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An image [h, w, c] with 1 channel (grey) or 3+ as 3 channels, values unchanged."""
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The image (float [h, w, c] in [0, 1]) under the heat in the jet colour map, RGB uint8."""
    rgb = as_rgb(image)
    coloured = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (0.55 * rgb * 255 + 0.45 * coloured).clip(0, 255).astype(np.uint8)
