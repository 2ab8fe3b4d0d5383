"""Drift between spans and runs: which features are compared, how, and from how many images.

The ExampleGen writes every picture's measures as features (features.MEASURE_FEATURES);
the schema carries a Jensen-Shannon divergence comparator on each (add_drift_comparators:
our SchemaGen adds them, a curated schema states its own); the AnomalyGate compares the
training split's statistics with those of the last data the pipeline accepted
(components/anomaly_gate/drift_check.py).

Why 0.2 and 100 images, measured on Caltech-101's real photographs (docs/data.md, "Drift"):
two random samples of the same photos differ by at most 0.06 from 100 images each (0.18
at 50, 0.4 at 20: too few to tell), the train/ and test/ folders by at most 0.05; the
same photos at half the brightness differ by 0.50 on brightness (0.57 on contrast), at
half the size by 0.60 on short_side_log2.
"""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import schema_pb2

from components.common.features import MEASURE_FEATURES

DRIFT_FEATURES = MEASURE_FEATURES
DRIFT_THRESHOLD = 0.2  # approximate Jensen-Shannon divergence, 0 (same) to 1
MIN_IMAGES_FOR_DRIFT = 100  # training images on each side; fewer give noise, not drift
STOP, WARN = "stop", "warn"  # --on-drift
ON_DRIFT = (STOP, WARN)


def add_drift_comparators(schema: schema_pb2.Schema,
                          threshold: float = DRIFT_THRESHOLD) -> schema_pb2.Schema:
    """schema with a Jensen-Shannon divergence comparator on each drift feature it has and
    that has none yet (a curated comparator is kept); changed in place and returned."""
    for feature in schema.feature:
        if feature.name in DRIFT_FEATURES and not feature.HasField("drift_comparator"):
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold
    return schema
