"""What a run produced, read back from ML Metadata: counts, quarantine, metrics, blessing, push."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import tensorflow as tf
import tensorflow_model_analysis as tfma
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tabulate import tabulate

from components.anomaly_gate import drift_check
from components.common import features
from components.common.class_balance import counts_line, imbalance_line, imbalance_ratio
from components.common.paths import absolute
from components.data_review import review
from components.evaluator.component import BASELINE_PROPERTY
from components.image_example_gen.image_issues import ImageIssues
from components.image_example_gen.layout import ROLES, TEST, TRAIN
from components.trainer.run_fn import TRAINING_FILE
from components.trainer.split_metrics import METRICS_FILE

SUMMARY_FILE = "summary.json"
PER_CLASS_ROWS_UP_TO = 10  # classes whose per-class metrics all fit the console table


def _custom(artifact: metadata_store_pb2.Artifact, key: str) -> Any:
    if key not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[key]
    return {"int_value": value.int_value, "string_value": value.string_value,
            "double_value": value.double_value}.get(value.WhichOneof("value"))


def latest_run_outputs(metadata_path: str) -> dict[str, metadata_store_pb2.Artifact]:
    """The artifacts (fresh or cached) of the newest pipeline run, by artifact type name
    (`Examples`) and by output name (`drift`: two outputs of one type differ there)."""
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
    output_events = [e for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    type_names = {t.id: t.name for t in store.get_artifact_types()}
    artifacts = {a.id: a for a in store.get_artifacts_by_id(
        sorted({e.artifact_id for e in output_events}))}
    outputs = {}
    for artifact_id in sorted(artifacts):
        outputs[type_names[artifacts[artifact_id].type_id]] = artifacts[artifact_id]
    for event in output_events:
        if event.path.steps:
            outputs[event.path.steps[0].key] = artifacts[event.artifact_id]
    return outputs


def _tfma_metrics(evaluation_uri: str) -> tuple[dict[str, float], dict[str, float]]:
    """(the candidate's overall metrics, the served baseline's) from TFMA's output."""
    candidate: dict[str, float] = {}
    baseline: dict[str, float] = {}
    for per_slice in tfma.load_metrics(evaluation_uri):
        if per_slice.slice_key.single_slice_keys:
            continue
        for key_and_value in per_slice.metric_keys_and_values:
            key = key_and_value.key
            if key.is_diff or not key_and_value.value.HasField("double_value"):
                continue
            value = key_and_value.value.double_value.value
            value = int(value) if key.name == features.EXAMPLE_COUNT else round(value, 4)
            (baseline if key.model_name == "baseline" else candidate)[key.name] = value
    return candidate, baseline


def _validation_failures(evaluation_uri: str, baseline: dict[str, float]) -> list[str]:
    """Each failed threshold in one phrase naming the metric (so the class) and the figure:
    `recall/dog = 0.12 (lower bound 0.5)`, `recall/dog = 0.1 (0.8 below the served model's
    0.9; at most 0.2)`, lower bounds first."""
    result = tfma.load_validation_result(evaluation_uri)
    bounds, drops = [], []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            name = failure.metric_key.name
            value = failure.metric_value.double_value.value
            threshold = failure.metric_threshold
            if failure.metric_key.is_diff and threshold.HasField("change_threshold"):
                allowed = -threshold.change_threshold.absolute.value
                served = baseline.get(name)
                shown = f"{served + value:.4g}" if served is not None else "?"
                limit = "no fall" if allowed < 1e-6 else f"at most {allowed:g}"
                drops.append(f"{name} = {shown} ({-value:.4g} below the served model's "
                             f"{served if served is not None else '?'}; {limit})")
            else:
                lower = threshold.value_threshold.lower_bound.value
                bounds.append(f"{name} = {value:.4g} (lower bound {lower:g})")
    return bounds + drops


def _json(folder: str, name: str) -> dict:
    """A JSON file an artifact holds, or {} when it has none."""
    path = os.path.join(folder, name)
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
        summary["class_counts"] = json.loads(
            _custom(examples, features.CLASS_COUNTS_PROPERTY) or "{}")
        summary["imbalance_ratio"] = imbalance_ratio(summary["class_counts"].get(TRAIN, {}))
        found = _json(examples.uri, features.IMAGE_ISSUES_FILE)
        summary["image_issues"] = found.get("image_issues", {})
        summary["greyscale_data_set"] = found.get("greyscale_data_set", False)
        summary["image_issues_report"] = absolute(
            os.path.join(examples.uri, features.IMAGE_ISSUES_FILE))
    drift = outputs.get("drift")  # the AnomalyGate's
    if drift is not None:
        summary["drift"] = _json(drift.uri, drift_check.DRIFT_FILE)
    data_review = outputs.get("data_review")
    if data_review is not None:
        summary["data_review"] = absolute(data_review.uri)
        found = _json(data_review.uri, review.REPORT_FILE)
        summary["label_issues"] = {
            **{key: found.get(key) for key in ("count", "fraction", "reviewed", "features",
                                               "skipped") if key in found},
            "report": absolute(os.path.join(data_review.uri, review.REPORT_FILE)),
            "top": found.get("label_issues", [])[:review.LISTED]}
        summary["outliers"] = len(found.get("outliers", []))
        near = found.get("near_copies", {})
        summary["near_copies_in_feature_space"] = {
            key: near.get(key, 0) for key in ("count", "across_splits", "label_conflicts")}
    metrics: dict[str, dict[str, float]] = {}
    model_run = outputs.get("ModelRun")
    if model_run is not None:
        summary["model_run"] = absolute(model_run.uri)
        metrics.update(_json(model_run.uri, METRICS_FILE))
        summary["training"] = _json(model_run.uri, TRAINING_FILE)
    evaluation = outputs.get("ModelEvaluation")
    if evaluation is not None:
        summary["evaluation"] = absolute(evaluation.uri)
        candidate, baseline = _tfma_metrics(evaluation.uri)
        # The Evaluator's figures for the split it measured (the Trainer's loss stays).
        metrics[blessed_on] = {**metrics.get(blessed_on, {}), **candidate}
        summary["failed_thresholds"] = _validation_failures(evaluation.uri, baseline)
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
    """Near-copies across splits: the hash's (per image), and the feature space's (pairs)."""
    leak = summary.get("leakage") or {}
    line = "none measured" if not leak.get("evaluated") else (
        f"{leak['with_near_copy_in_training']} of {leak['evaluated']} validation/test "
        f"images have a near-copy in training ({leak['fraction']:.1%})")
    across = (summary.get("near_copies_in_feature_space") or {}).get("across_splits")
    return line + (f"; in feature space, {across} pair(s) across splits" if across else "")


def image_issue_lines(summary: dict[str, Any]) -> list[str]:
    """The image issues (dark, blurry, ...) found by the ExampleGen, a line per kind found."""
    if "image_issues" not in summary:
        return []
    issues = ImageIssues.from_json(summary["image_issues"])
    return dataclasses.replace(issues, greyscale_data_set=summary.get(
        "greyscale_data_set", False)).lines()


def data_review_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The data review's counts: label issues, outliers, near-copies in feature space."""
    found = summary["label_issues"]
    if found.get("skipped"):
        return [("label issues", f"not looked for ({found['skipped']})")]
    near = summary.get("near_copies_in_feature_space", {})
    return [("label issues", f"{found['count']} of {found['reviewed']} images "
             f"({found['fraction']:.1%}) look mislabelled (label_issues.json)"),
            ("outliers", f"{summary.get('outliers', 0)} images far from every class"),
            ("near-copies (features)", f"{near.get('count', 0)} pairs, "
             f"{near.get('across_splits', 0)} across splits, "
             f"{near.get('label_conflicts', 0)} with different labels")]


def drift_line(summary: dict[str, Any]) -> str:
    """The drift check's verdict in one line (without its 'drift:' label)."""
    found = dict(summary.get("drift") or {})
    found.pop("drifted", None)
    found.pop("on_drift", None)
    line = drift_check.DriftResult(**found).line() if found else "drift: not checked"
    return line.removeprefix("drift: ").removeprefix("drift ")


def _metric_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """A row per metric, every split side by side; with many classes, the per-class rows of
    the classes the blessing split recalls worst (summary.json has them all)."""
    metrics = summary.get("metrics", {})
    splits = list(metrics)
    names = sorted({name for values in metrics.values() for name in values})
    classes = summary.get("class_names", [])
    rows = []
    if len(classes) > PER_CLASS_ROWS_UP_TO:
        blessing = metrics.get(summary.get("blessed_on", TEST), {})
        worst = set(sorted(classes, key=lambda c: blessing.get(
            features.recall_metric_name(c), 1.0))[:PER_CLASS_ROWS_UP_TO // 2])
        names = [name for name in names if "/" not in name or name.split("/", 1)[1] in worst]
        rows.append(("per-class metrics", f"{len(classes)} classes: all in summary.json and "
                     f"report.html; below, the {len(worst)} with the lowest recall on "
                     f"{summary.get('blessed_on', TEST)}"))
    return rows + [(name, " | ".join(f"{split} {metrics[split][name]}" for split in splits
                                     if name in metrics[split])) for name in names]


def format_table(summary: dict[str, Any]) -> str:
    """The summary for the console: the facts, then the metrics of every split side by side."""
    rows = [("run", summary.get("run_dir", "")), ("layout", summary.get("layout", ""))]
    rows += [("warning", warning) for warning in summary.get("warnings", [])]
    for split, count in summary.get("examples_per_split", {}).items():
        rows.append((f"examples ({split})", count))
    rows.append(("classes", ", ".join(summary.get("class_names", []))))
    train_counts = (summary.get("class_counts") or {}).get(TRAIN)
    if train_counts:
        rows.append(("images per class (train)", counts_line(train_counts)))
        rows.append(("imbalance", imbalance_line(summary.get("imbalance_ratio"))))
    weighting = (summary.get("training") or {}).get("class_weight")
    if weighting:
        rows.append(("class weights", weighting["why"]))
    stopped = (summary.get("training") or {}).get("stopped")
    if stopped:
        rows.append(("training", stopped))
    rows.append(("quarantined files", summary.get("quarantined")))
    rows.append(("ignored files", summary.get("ignored")))
    found = summary.get("duplicates") or {}
    rows.append(("duplicate groups", f"{found.get('groups', 0)} ({found.get('images_in_groups', 0)} "
                 f"images; {found.get('label_conflicts', 0)} with different labels)"))
    rows.append(("near-copies across splits", leakage_line(summary)))
    rows += [("image issues", line) for line in image_issue_lines(summary)]
    if summary.get("label_issues"):
        rows += data_review_rows(summary)
    if summary.get("drift"):
        rows.append(("drift", drift_line(summary)))
    rows += _metric_rows(summary)
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
