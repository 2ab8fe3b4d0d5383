"""A split's metrics from its labels and predictions: the confusion matrix, per-class
precision, recall and F1, macro F1 and balanced accuracy.

The Trainer (train, validation) and the Evaluator (test) both call this, so every split
is measured the same way and summary.json shows them side by side under the names of
features.py. Plain NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from components.common import features


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(float(numerator / denominator), 4) if denominator else None


def confusion(labels: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """class_report of the labels and predicted class ids."""
    n = len(class_names)
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (np.asarray(labels, int), np.asarray(predicted, int)), 1)
    return class_report(matrix, class_names)


def class_report(matrix: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """The confusion matrix (rows: true class, columns: predicted), the same row-normalised
    (each true class's share of predictions), and per class precision, recall, F1 and support
    (None where a class has no image or no prediction to measure it on)."""
    matrix = np.asarray(matrix)
    per_class = {}
    for i, name in enumerate(class_names):
        predicted_i, actual_i = matrix[:, i].sum(), matrix[i, :].sum()
        precision = _ratio(matrix[i, i], predicted_i)
        recall = _ratio(matrix[i, i], actual_i)
        f1 = None
        if actual_i:  # F1 is 0 for a class that is there and never predicted right
            f1 = round(2 * matrix[i, i] / (predicted_i + actual_i), 4)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1,
                           "support": int(actual_i)}
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    return {"class_names": class_names, "matrix": matrix.astype(int).tolist(),
            "row_normalised": np.round(normalised, 4).tolist(), "per_class": per_class,
            "accuracy": round(float(np.trace(matrix) / max(1, matrix.sum())), 4)}


def summary_metrics(found: dict[str, Any]) -> dict[str, float]:
    """The flat metrics of a confusion(): accuracy, precision/<c>, recall/<c>, f1/<c>,
    macro_f1 and balanced_accuracy (both over the classes the split holds)."""
    metrics: dict[str, float] = {features.ACCURACY: found["accuracy"]}
    recalls, f1s = [], []
    for name, values in found["per_class"].items():
        for key, metric in (("precision", features.precision_metric_name),
                            ("recall", features.recall_metric_name),
                            ("f1", features.f1_metric_name)):
            if values[key] is not None:
                metrics[metric(name)] = values[key]
        if values["support"]:
            recalls.append(values["recall"])
            f1s.append(values["f1"])
    if recalls:
        metrics[features.BALANCED_ACCURACY] = round(float(np.mean(recalls)), 4)
        metrics[features.MACRO_F1] = round(float(np.mean(f1s)), 4)
    return metrics
