"""The split that decides the blessing, drawn: the confusion matrix, the most confident
mistakes and Grad-CAM (components/insights/verdict.py), into the ModelEvaluation artifact
beside TFMA's metrics.

The images go through the same decode and resize as the transform graph
(components/transform/preprocessing.py) and the exported model's own Keras layers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from components.common import features
from components.insights import verdict
from components.insights.figures import INSIGHTS_DIR
from components.trainer.models.classifier import class_probabilities
from components.trainer.signatures import load_keras_model
from components.transform.preprocessing import decode_and_resize

_BATCH = 64


def _batches(file_pattern: str, shape: tuple[int, int, int]) -> Iterator[tuple[np.ndarray,
                                                                                np.ndarray]]:
    """(float images in [0, 1], labels) of a split's Examples, a batch at a time."""
    spec = {features.IMAGE_BYTES: tf.io.FixedLenFeature([], tf.string),
            features.LABEL: tf.io.FixedLenFeature([], tf.int64)}
    records = tf.data.TFRecordDataset(tf.io.gfile.glob(file_pattern), compression_type="GZIP")
    for batch in records.batch(_BATCH).map(lambda r: tf.io.parse_example(r, spec)):
        yield (decode_and_resize(batch[features.IMAGE_BYTES], *shape).numpy(),
               batch[features.LABEL].numpy())


def describe(model_dir: str, file_pattern: str, class_names: list[str], output_dir: str,
             split: str) -> dict:
    """Writes <output_dir>/insights/ for the split's Examples (file_pattern) under the
    exported model in model_dir; returns the split's class_report (its confusion matrix)."""
    model = load_keras_model(model_dir)
    shape = tuple(int(d) for d in model.input_shape[1:])

    def probabilities_of(images: np.ndarray) -> np.ndarray:
        return class_probabilities(model(images, training=False), len(class_names)).numpy()

    return verdict.describe_split(model, _batches(file_pattern, shape), class_names,
                                  probabilities_of, os.path.join(output_dir, INSIGHTS_DIR), split)
