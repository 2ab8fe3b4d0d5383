"""What a run produced, read back from ML Metadata: counts, quarantine, metrics, blessing, push."""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
import tensorflow_model_analysis as tfma
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tabulate import tabulate

from components import features
from components.image_example_gen.layout import ROLES, TEST
from components.served_baseline_evaluator import BASELINE_PROPERTY
from components.trainer.split_metrics import METRICS_FILE

SUMMARY_FILE = "summary.json"


def _custom(artifact: metadata_store_pb2.Artifact, key: str) -> Any:
    if key not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[key]
    return {"int_value": value.int_value, "string_value": value.string_value,
            "double_value": value.double_value}.get(value.WhichOneof("value"))


def latest_run_outputs(metadata_path: str) -> dict[str, metadata_store_pb2.Artifact]:
    """The artifacts (fresh or cached) of the newest pipeline run, by artifact type name."""
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(connection)
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        return {}
    run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
    executions = store.get_executions_by_context(run.id)
    events = store.get_events_by_execution_ids([e.id for e in executions])
    output_ids = sorted({e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT})
    type_names = {t.id: t.name for t in store.get_artifact_types()}
    outputs = {}
    for artifact in store.get_artifacts_by_id(output_ids):
        outputs[type_names[artifact.type_id]] = artifact
    return outputs


def _overall_metrics(evaluation_uri: str) -> dict[str, float]:
    metrics = {}
    for per_slice in tfma.load_metrics(evaluation_uri):
        if per_slice.slice_key.single_slice_keys:
            continue
        for key_and_value in per_slice.metric_keys_and_values:
            key = key_and_value.key
            if key.is_diff or key.model_name not in ("", "candidate"):
                continue
            if key_and_value.value.HasField("double_value"):
                value = key_and_value.value.double_value.value
                metrics[key.name] = int(value) if key.name == features.EXAMPLE_COUNT else round(
                    value, 4)
    return metrics


def _validation_failures(evaluation_uri: str) -> list[str]:
    result = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            threshold = failure.metric_threshold
            bound = ""
            if threshold.HasField("value_threshold"):
                bound = f" (lower bound {threshold.value_threshold.lower_bound.value})"
            elif threshold.HasField("change_threshold"):
                bound = " (worse than the served model)"
            failures.append(
                f"{failure.metric_key.name} = {failure.metric_value.double_value.value:.4f}{bound}"
            )
    return failures


def absolute(path: str) -> str:
    """A local path made absolute (summary.json must not depend on where the run started)."""
    return path if "://" in path else os.path.abspath(path)


def _trainer_metrics(model_run_uri: str) -> dict[str, dict[str, float]]:
    path = os.path.join(model_run_uri, METRICS_FILE)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def collect_summary(metadata_path: str, blessed_on: str) -> dict[str, Any]:
    """The facts of the newest run: examples per split, quarantine, duplicates and leakage,
    metrics of every split, blessing, push. blessed_on: the split the Evaluator measured."""
    outputs = latest_run_outputs(metadata_path)
    summary: dict[str, Any] = {"blessed_on": blessed_on}
    examples = outputs.get("Examples")
    if examples is not None:
        summary["class_names"] = json.loads(
            _custom(examples, features.CLASS_NAMES_PROPERTY) or "[]")
        summary["examples_per_split"] = json.loads(
            _custom(examples, features.EXAMPLES_PER_SPLIT_PROPERTY) or "{}")
        summary["quarantined"] = _custom(examples, features.QUARANTINED_PROPERTY)
        summary["ignored"] = _custom(examples, features.IGNORED_PROPERTY)
        summary["quarantine_report"] = absolute(
            os.path.join(examples.uri, features.QUARANTINE_REPORT_FILE))
        summary["duplicates"] = json.loads(_custom(examples, features.DUPLICATES_PROPERTY) or "{}")
        summary["leakage"] = summary["duplicates"].pop("leakage", {})
        summary["leakage_report"] = absolute(
            os.path.join(examples.uri, features.LEAKAGE_REPORT_FILE))
    metrics: dict[str, dict[str, float]] = {}
    model_run = outputs.get("ModelRun")
    if model_run is not None:
        summary["model_run"] = absolute(model_run.uri)
        metrics.update(_trainer_metrics(model_run.uri))
    evaluation = outputs.get("ModelEvaluation")
    if evaluation is not None:
        # The Evaluator's figures for the split it measured (the Trainer's loss stays).
        metrics[blessed_on] = {**metrics.get(blessed_on, {}), **_overall_metrics(evaluation.uri)}
        summary["failed_thresholds"] = _validation_failures(evaluation.uri)
    summary["metrics"] = {split: metrics[split] for split in ROLES if split in metrics}
    blessing = outputs.get("ModelBlessing")
    if blessing is not None:
        summary["blessed"] = bool(_custom(blessing, "blessed"))
        summary["baseline"] = _custom(blessing, BASELINE_PROPERTY)
    model = outputs.get("Model")
    if model is not None:
        summary["model"] = absolute(model.uri)
    pushed = outputs.get("PushedModel")
    if pushed is not None and _custom(pushed, "pushed"):
        summary["pushed_to"] = absolute(_custom(pushed, "pushed_destination"))
    else:
        summary["pushed_to"] = None
    return summary


def blessing_note(summary: dict[str, Any]) -> str:
    """Which split decided the blessing, plainly, with the caveat when it chose the model too."""
    split = summary.get("blessed_on", TEST)
    if split == TEST:
        return "measured on the test split, held out from training and model selection"
    return (f"measured on the {split} split, which also chose the model (early stopping): "
            "optimistic; add a test split (test/ folder) for an unbiased verdict")


def leakage_line(summary: dict[str, Any]) -> str:
    leak = summary.get("leakage") or {}
    if not leak.get("evaluated"):
        return "none measured"
    return (f"{leak['with_near_copy_in_training']} of {leak['evaluated']} validation/test "
            f"images have a near-copy in training ({leak['fraction']:.1%})")


def format_table(summary: dict[str, Any]) -> str:
    """The summary for the console: the facts, then the metrics of every split side by side."""
    rows = [("run", summary.get("run_dir", "")), ("layout", summary.get("layout", ""))]
    rows += [("warning", warning) for warning in summary.get("warnings", [])]
    for split, count in summary.get("examples_per_split", {}).items():
        rows.append((f"examples ({split})", count))
    rows.append(("classes", ", ".join(summary.get("class_names", []))))
    rows.append(("quarantined files", summary.get("quarantined")))
    rows.append(("ignored files", summary.get("ignored")))
    found = summary.get("duplicates") or {}
    rows.append(("duplicate groups", f"{found.get('groups', 0)} ({found.get('images_in_groups', 0)} "
                 f"images; {found.get('label_conflicts', 0)} with different labels)"))
    rows.append(("near-copies across splits", leakage_line(summary)))
    metrics = summary.get("metrics", {})
    splits = list(metrics)
    names = sorted({name for values in metrics.values() for name in values})
    for name in names:
        rows.append((name, " | ".join(f"{split} {metrics[split][name]}" for split in splits
                                      if name in metrics[split])))
    rows.append(("blessed", f"{summary.get('blessed')} ({blessing_note(summary)})"))
    rows.append(("compared with", summary.get("baseline") or "-"))
    for failure in summary.get("failed_thresholds", []):
        rows.append(("failed threshold", failure))
    rows.append(("pushed to", summary.get("pushed_to") or "nothing pushed"))
    peaks = summary.get("component_peak_mb", {})
    for component, seconds in summary.get("component_seconds", {}).items():
        peak = f", peak {peaks[component]:,} MB" if component in peaks else ""
        rows.append((f"component: {component}", f"{seconds} s{peak}"))
    return tabulate(rows, tablefmt="simple_outline")
