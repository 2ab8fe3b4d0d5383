"""The Evaluator's configuration: what a model must score to be blessed, on every class.

One TFMA config for the candidate and the served model it is compared with, built here for
the local runner and the compiled Kubeflow spec alike:
- accuracy at or above --min-accuracy, and no lower than the served model's;
- every class's recall at or above --min-class-recall (a model that never predicts a class
  scores 0 there), and no more than --max-class-drop below the served model's recall of
  that class, on the same split.
"""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from components.common import features
from components.common.features import ACCURACY, AUC, recall_metric_name
from components.evaluator import tfma_metrics
from components.evaluator.gates import DEFAULT_MAX_CLASS_DROP, DEFAULT_MIN_CLASS_RECALL

_NO_DROP = 1e-10  # "no lower than": TFMA compares with a strict tolerance


def _threshold(lower_bound: float, max_drop: float | None,
               always_bound: bool = False) -> tfma.MetricThreshold | None:
    """A lower bound (when positive, or always_bound) and, when max_drop is given, at most
    max_drop below the served model's value; None when neither applies."""
    bounded = lower_bound > 0 or always_bound
    if not bounded and max_drop is None:
        return None
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound})
        if bounded else None,
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_drop})
        if max_drop is not None else None)


def _class_metric(name: str, kind: str, num_classes: int, class_id: int = -1,
                  threshold: tfma.MetricThreshold | None = None) -> tfma.MetricConfig:
    """A tfma_metrics.ClassMetric: a per-class or macro figure with a plain name."""
    return tfma.MetricConfig(
        class_name=tfma_metrics.ClassMetric.__name__, module=tfma_metrics.__name__,
        config=json.dumps({"name": name, "kind": kind, "num_classes": num_classes,
                           "class_id": class_id}), threshold=threshold)


def eval_config(class_names: list[str], min_accuracy: float,
                min_class_recall: float = DEFAULT_MIN_CLASS_RECALL,
                max_class_drop: float = DEFAULT_MAX_CLASS_DROP,
                compare_to_baseline: bool = True) -> tfma.EvalConfig:
    """Accuracy (+ AUC for 2 classes), precision, recall and F1 per class, macro F1 and
    balanced accuracy on the serving_examples signature, with the blessing's thresholds on
    accuracy and every class's recall (the change thresholds apply once a model is served;
    see component.py)."""
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(class_name="SparseCategoricalAccuracy",
                          config=json.dumps({"name": ACCURACY}),
                          # Always a lower bound: TFMA refuses a config whose only thresholds
                          # are comparisons when nothing is served yet to compare with.
                          threshold=_threshold(min_accuracy,
                                               _NO_DROP if compare_to_baseline else None,
                                               always_bound=True)),
    ]
    if len(class_names) == 2:
        metrics.append(
            tfma.MetricConfig(class_name="AUC", config=json.dumps({"name": AUC, "class_id": 1})))
    recall_threshold = _threshold(min_class_recall,
                                  max_class_drop if compare_to_baseline else None)
    for class_id, class_name in enumerate(class_names):
        for kind, name, threshold in (
                (features.RECALL, recall_metric_name(class_name), recall_threshold),
                (features.PRECISION, features.precision_metric_name(class_name), None),
                (features.F1, features.f1_metric_name(class_name), None)):
            metrics.append(_class_metric(name, kind, len(class_names), class_id, threshold))
    metrics += [_class_metric(kind, kind, len(class_names))
                for kind in (features.MACRO_F1, features.BALANCED_ACCURACY)]
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=features.EXAMPLES_SIGNATURE,
                label_key=features.LABEL,
                prediction_key=features.PROBABILITIES,
                model_type="tf_generic",
            )
        ],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )
