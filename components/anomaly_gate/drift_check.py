"""The drift check: this run's training statistics against the last data the pipeline accepted.

The accepted statistics live in one folder per pipeline (`<output>/data-statistics/<name>/`,
PipelineConfig.accepted_statistics_dir), a subfolder per accepted run named by UTC time and
span, so they sort in the order they were accepted and a failed run never moves them.
Kept in a folder of our own, not found through ML Metadata: the same code then runs under
the local runner and on Kubeflow, where open-source KFP runs no resolver (the Evaluator's
served baseline works the same way).

The comparison is TFDV's (`validate_statistics` with `previous_statistics`), on the
comparators the schema carries (components/common/drift.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import os

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from components.common.drift import MIN_IMAGES_FOR_DRIFT
from components.image_example_gen.layout import TRAIN

STATISTICS_FILE = "FeatureStats.pb"  # TFX's StatisticsGen's name (stats_artifact_utils)
DRIFT_FILE = "drift.json"  # what the AnomalyGate found, in its drift artifact


@dataclasses.dataclass
class DriftResult:
    """What the check found: measured (checked) or why not; each feature's divergence."""

    checked: bool
    reason: str  # why not checked, or what it was compared with
    baseline: str | None = None  # the accepted statistics compared with
    measurements: list[dict] = dataclasses.field(default_factory=list)

    @property
    def drifted(self) -> list[dict]:
        return [m for m in self.measurements if m["divergence"] > m["threshold"]]

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "drifted": self.drifted}

    def line(self) -> str:
        """One line for a person."""
        if not self.checked:
            return f"drift: not checked ({self.reason})"
        if not self.drifted:
            largest = max(self.measurements, key=lambda m: m["divergence"], default=None)
            most = (f"; largest {largest['feature']} {largest['divergence']:.3f}"
                    if largest else "")
            return f"drift: none against {self.reason} (threshold {_threshold(self)}{most})"
        return (f"drift against {self.reason}: " + ", ".join(
            f"{m['feature']} Jensen-Shannon divergence {m['divergence']:.3f} above "
            f"{m['threshold']:g}" for m in self.drifted))


def _threshold(result: DriftResult) -> str:
    return ", ".join(sorted({f"{m['threshold']:g}" for m in result.measurements})) or "-"


def _split_file(folder: str, split: str = TRAIN) -> str:
    return os.path.join(folder, f"Split-{split}", STATISTICS_FILE)


def latest_baseline(store: str) -> str | None:
    """The newest accepted statistics folder in store, or None."""
    if not tf.io.gfile.isdir(store):
        return None
    found = sorted(name.rstrip("/") for name in tf.io.gfile.listdir(store)
                   if tf.io.gfile.exists(_split_file(os.path.join(store, name.rstrip("/")))))
    return os.path.join(store, found[-1]) if found else None


def record(statistics_uri: str, splits: list[str], store: str, span: int) -> str:
    """Copies the run's statistics (every split) into a new folder of store; returns it."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = os.path.join(store, f"{stamp}-span-{span}")
    for split in splits:
        tf.io.gfile.makedirs(os.path.dirname(_split_file(folder, split)))
        tf.io.gfile.copy(_split_file(statistics_uri, split), _split_file(folder, split),
                         overwrite=True)
    return folder


def _examples(statistics) -> int:
    return sum(dataset.num_examples for dataset in statistics.datasets)


def check(statistics_uri: str, schema: schema_pb2.Schema, baseline: str | None) -> DriftResult:
    """The training split's statistics at statistics_uri against baseline's (DriftResult)."""
    if baseline is None:
        return DriftResult(False, "no data accepted before: this run's becomes the reference")
    if not any(feature.HasField("drift_comparator") for feature in schema.feature):
        return DriftResult(False, "the schema has no drift comparators", baseline)
    current = tfdv.load_stats_binary(_split_file(statistics_uri))
    previous = tfdv.load_stats_binary(_split_file(baseline))
    counts = (_examples(current), _examples(previous))
    name = os.path.basename(baseline.rstrip("/"))
    if min(counts) < MIN_IMAGES_FOR_DRIFT:
        return DriftResult(False, f"{counts[0]} training images now, {counts[1]} in the data "
                           f"accepted last ({name}): at least {MIN_IMAGES_FOR_DRIFT} on each side "
                           "are needed to tell drift from chance", baseline)
    anomalies = tfdv.validate_statistics(current, schema, previous_statistics=previous)
    measurements = [
        {"feature": ".".join(info.path.step), "divergence": round(measured.value, 4),
         "threshold": measured.threshold}
        for info in anomalies.drift_skew_info for measured in info.drift_measurements]
    return DriftResult(True, f"the data accepted last ({name})", baseline,
                       sorted(measurements, key=lambda m: m["feature"]))
