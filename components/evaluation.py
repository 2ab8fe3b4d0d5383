"""The Evaluator's configuration: what a model must score to be blessed."""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from components import features
from components.features import ACCURACY, AUC, recall_metric_name


def eval_config(class_names: list[str], min_accuracy: float,
                compare_to_baseline: bool = True) -> tfma.EvalConfig:
    """Accuracy (+ AUC for 2 classes) and per-class recall, on the serving_examples signature.

    Blessing needs accuracy >= min_accuracy and, with compare_to_baseline, no regression
    against the model being served (the change threshold applies once one is served;
    see served_baseline_evaluator.py).
    """
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy",
            config=json.dumps({"name": ACCURACY}),
            threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                    absolute={"value": -1e-10},
                ) if compare_to_baseline else None,
            ),
        ),
    ]
    if len(class_names) == 2:
        metrics.append(
            tfma.MetricConfig(class_name="AUC", config=json.dumps({"name": AUC, "class_id": 1}))
        )
    for class_id, class_name in enumerate(class_names):
        # top_k=1 sets every probability but the highest to -inf, and threshold 0 then
        # counts a class as predicted exactly when it has the highest probability.
        metrics.append(
            tfma.MetricConfig(
                class_name="Recall",
                config=json.dumps({
                    "name": recall_metric_name(class_name),
                    "class_id": class_id,
                    "top_k": 1,
                    "thresholds": [0.0],
                }),
            )
        )
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
