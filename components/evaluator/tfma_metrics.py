"""Per-class precision, recall and F1, macro F1 and balanced accuracy as TFMA metrics.

So that the blessing's thresholds can name them (`recall/dog`), and the served model is
measured the same way in the same pass. TFMA's own Recall with a class_id keys its value
with a sub-key that a threshold in the config cannot name; these metrics have plain names.
Each derives from TFMA's multi-class confusion matrix at threshold 0 (the predicted class is
the argmax, as the served model's class_id) through the formulas the Trainer uses for train
and validation (components/common/class_metrics.py).
"""

from __future__ import annotations

import numpy as np
from tensorflow_model_analysis.metrics import (
    metric_types,
    metric_util,
)
from tensorflow_model_analysis.metrics import (
    multi_class_confusion_matrix_metrics as confusion_metrics,
)

from components.common import features
from components.common.class_metrics import class_report, summary_metrics

_ARGMAX = 0.0  # the confusion matrix's threshold: every example's top class is predicted


class ClassMetric(metric_types.Metric):
    """One figure of the class report: kind recall, precision or f1 (of class_id), or
    macro_f1 or balanced_accuracy (over num_classes)."""

    def __init__(self, name: str, kind: str, num_classes: int, class_id: int = -1):
        super().__init__(metric_util.merge_per_key_computations(_computations), name=name,
                         kind=kind, num_classes=num_classes, class_id=class_id)


metric_types.register_metric(ClassMetric)


def _computations(name: str, kind: str, num_classes: int, class_id: int = -1,
                  eval_config=None, model_name: str = "", output_name: str = "",
                  example_weighted: bool = False) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)
    matrices = confusion_metrics.multi_class_confusion_matrices(
        thresholds=[_ARGMAX], eval_config=eval_config, model_name=model_name,
        output_name=output_name, example_weighted=example_weighted)
    matrices_key = matrices[-1].keys[-1]
    names = [str(i) for i in range(num_classes)]
    metric = {"recall": features.recall_metric_name, "precision": features.precision_metric_name,
              "f1": features.f1_metric_name}.get(kind, lambda _: kind)(str(class_id))

    def result(metrics: dict) -> dict:
        matrix = np.zeros((num_classes, num_classes))
        for entry, count in metrics[matrices_key].get(_ARGMAX, {}).items():
            if entry.predicted_class_id >= 0:
                matrix[entry.actual_class_id, entry.predicted_class_id] += count
        value = summary_metrics(class_report(matrix, names)).get(metric)
        return {key: float("nan") if value is None else value}

    return [*matrices, metric_types.DerivedMetricComputation(keys=[key], result=result)]
