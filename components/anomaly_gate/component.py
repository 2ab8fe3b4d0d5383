"""AnomalyGate: stops the run when the ExampleValidator found anomalies, or when the data
drifted from the data accepted last, naming each one.

TFX 1.16's ExampleValidator records anomalies but does not fail, and compares nothing with
earlier data; a scheduled run must not train on broken or drifted data unnoticed, so this
small component turns both into a clear error (drift only warns with `--on-drift warn`).
What it found about drift is its output (drift.json), which the summary reports.
"""


import json
import logging
import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.anomaly_gate import drift_check
from components.common.drift import STOP


class AnomaliesFound(RuntimeError):
    """The data does not match the schema."""


class DriftFound(RuntimeError):
    """The training data drifted from the data accepted last (--on-drift stop)."""


def describe_anomalies(anomalies_uri: str, split_names: "list[str]") -> "list[str]":
    """One line per anomaly: split, feature, short and long description."""
    lines = []
    for split in split_names:
        path = os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb")
        if not tf.io.gfile.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"[{split}] {feature}: {info.short_description} ({info.description})")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            lines.append(f"[{split}] dataset: {info.short_description} ({info.description})")
    return lines


@tfx.dsl.components.component
def AnomalyGate(  # noqa: N802 - TFX components are named like classes
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    drift: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    accepted_statistics_dir: tfx.dsl.components.Parameter[str] = "",
    on_drift: tfx.dsl.components.Parameter[str] = STOP,
) -> None:
    """Raises AnomaliesFound listing every anomaly, or DriftFound naming every drifted
    measure (--on-drift stop); otherwise records this run's statistics as the data accepted
    last, in accepted_statistics_dir ("" : no drift check)."""
    found = describe_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
    if found:
        raise AnomaliesFound(
            f"ExampleValidator found {len(found)} anomal{'y' if len(found) == 1 else 'ies'}: "
            + "; ".join(found)
        )
    if not accepted_statistics_dir:
        result = drift_check.DriftResult(False, "no place to keep accepted statistics")
    else:
        schema_proto = io_utils.SchemaReader().read(
            io_utils.get_only_uri_in_dir(schema.uri))
        result = drift_check.check(statistics.uri, schema_proto,
                                   drift_check.latest_baseline(accepted_statistics_dir))
    tf.io.gfile.makedirs(drift.uri)  # a local root on Vertex's contract has no folder yet
    with tf.io.gfile.GFile(os.path.join(drift.uri, drift_check.DRIFT_FILE), "w") as f:
        f.write(json.dumps({**result.to_json(), "on_drift": on_drift}, indent=2))
    logging.info(result.line())
    if result.drifted and on_drift == STOP:
        raise DriftFound(f"{result.line()}; the run stops before training (look at the new "
                         "images; --on-drift warn trains on them anyway)")
    if accepted_statistics_dir:
        drift_check.record(statistics.uri, artifact_utils.decode_split_names(
            statistics.split_names), accepted_statistics_dir, statistics.span or 0)
