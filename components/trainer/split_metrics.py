"""The trained model's metrics on the splits the Trainer sees: train and validation.

The same keys as the Evaluator's (components/common/features.py), so summary.json and the report
show every split side by side; the Evaluator measures the split that decides the blessing
(test). Written to the ModelRun artifact as metrics.json.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.common import features
from components.common.class_metrics import confusion, summary_metrics
from components.trainer import input_pipeline

METRICS_FILE = "metrics.json"
_AUC_THRESHOLDS = 10_000  # as TFMA's AUC


def split_metrics(probabilities_of, cached: tf.data.Dataset, class_names: list[str],
                  batch_size: int = 256) -> dict[str, float]:
    """example_count, loss (cross-entropy), auc (2 classes) and class_metrics.summary_metrics:
    accuracy, precision, recall and F1 per class, macro F1, balanced accuracy.

    probabilities_of maps a float image batch to [batch, classes] probabilities.
    """
    labels, probabilities = [], []
    for pixels, label in input_pipeline.evaluation_batches(cached, batch_size):
        probabilities.append(np.asarray(probabilities_of(pixels)))
        labels.append(label.numpy())
    if not labels:
        return {features.EXAMPLE_COUNT: 0}
    truth = np.concatenate(labels).astype(int)
    scores = np.concatenate(probabilities)
    found = confusion(truth, scores.argmax(axis=1), class_names)
    picked = np.clip(scores[np.arange(len(truth)), truth], 1e-7, 1.0)
    metrics = {features.EXAMPLE_COUNT: len(truth), **summary_metrics(found),
               features.LOSS: round(float(-np.log(picked).mean()), 4)}
    if len(class_names) == 2:
        auc = keras.metrics.AUC(num_thresholds=_AUC_THRESHOLDS)
        auc.update_state(truth, scores[:, 1])
        metrics[features.AUC] = round(float(auc.result()), 4)
    return metrics


def write_metrics(metrics: dict[str, dict[str, float]], model_run_dir: str) -> str:
    """Writes {split: metrics} to <model_run_dir>/metrics.json; returns the path."""
    path = os.path.join(model_run_dir, METRICS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(metrics, f, indent=2)
    return path
