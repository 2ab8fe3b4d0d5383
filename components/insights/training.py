"""The Trainer's pictures: how training went, on the splits it sees.

- training_curves.png: accuracy and loss per epoch, training vs validation, the best
  epoch (whose weights were kept) marked;
- feature_maps_<class>.png: one validation image per class through every conv and pooling
  layer (the course's intermediate-outputs model).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.insights import figures


def write_training_pictures(model: keras.Model, history: dict[str, list[float]],
                            images: tf.data.Dataset, class_names: list[str],
                            output_dir: str, best_epoch: int | None = None) -> dict[str, str]:
    """Writes the curves (the best epoch marked) and one feature-map figure per class into
    output_dir; images yields (uint8 image, label) of the validation split. Returns
    {name: path}."""
    tf.io.gfile.makedirs(output_dir)
    written = {"curves": figures.training_curves(
        history, os.path.join(output_dir, figures.CURVES_FILE), best_epoch)}
    samples: dict[int, np.ndarray] = {}
    for pixels, labels in images.batch(256):
        for image, label in zip(pixels.numpy(), labels.numpy(), strict=True):
            samples.setdefault(int(label), image)
        if len(samples) == len(class_names):
            break
    if samples:
        ids = sorted(samples)
        names = [class_names[label_id] for label_id in ids]
        paths = figures.feature_maps(
            model, np.stack([samples[label_id] for label_id in ids]) / np.float32(255),
            [f"feature maps: a '{name}' validation image" for name in names],
            [os.path.join(output_dir, f"{figures.FEATURE_MAPS_PREFIX}{figures.safe_name(name)}.png")
             for name in names])
        written.update(zip(names, paths, strict=True))
    return written
