"""AnomalyGate: stops the run when the ExampleValidator found anomalies, naming each one.

TFX 1.16's ExampleValidator records anomalies but does not fail; a scheduled run must
not train on drifted data, so this small component turns them into a clear error.
"""


import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils


class AnomaliesFound(RuntimeError):
    """The data does not match the schema."""


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
) -> None:
    """Raises AnomaliesFound listing every anomaly; passes silently when there are none."""
    found = describe_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
    if found:
        raise AnomaliesFound(
            f"ExampleValidator found {len(found)} anomal{'y' if len(found) == 1 else 'ies'}: "
            + "; ".join(found)
        )
