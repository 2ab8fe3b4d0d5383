"""How much local disk each task's pod needs on open-source KFP: its launcher downloads every
input artifact before the command runs (pipeline/runners/kfp_local/launcher.py).

What a task stages is what it reads: the Examples (about the data's own size: they hold the
encoded image bytes) for StatisticsGen, the DataReview, Transform, the Trainer, the Tuner
and the Evaluator; a trained model for the Evaluator and the Pusher; small artifacts (statistics,
schema, transform graph) for the rest. The compiled `.yaml` gives each pod an emptyDir of
that size at the launcher's staging path (`/s3`, `/gcs` or `/minio`); KFP v2 has no field
for an ephemeral-storage request, and a pod whose staging outgrows its emptyDir is evicted
by the kubelet rather than filling the node's disk.
"""

from __future__ import annotations

import math

GIB = 1024 ** 3
EXAMPLES_READERS = ("StatisticsGen", "DataReview", "Transform", "Trainer", "Tuner", "Evaluator")
MODEL_READERS = ("Evaluator", "Pusher")
MODEL_ALLOWANCE = GIB  # an exported model (the InceptionV3 head at 150 px is about 0.4 GB)
SMALL_ARTIFACTS = GIB // 4  # statistics, schema, transform graph, run logs
MARGIN = 1.1


def staged_bytes(task: str, data_bytes: int) -> int:
    """What the task's pod downloads before its command, for data of data_bytes."""
    staged = SMALL_ARTIFACTS
    if task in EXAMPLES_READERS:
        staged += data_bytes
    if task in MODEL_READERS:
        staged += MODEL_ALLOWANCE
    return staged


def quantity(size: int) -> str:
    """Bytes as a Kubernetes quantity, rounded up to whole GiB (at least 1Gi)."""
    return f"{max(1, math.ceil(size / GIB))}Gi"


def disk_per_task(tasks: list[str], data_bytes: int | None,
                  given: dict[str, str]) -> dict[str, str]:
    """{task: its staging disk as a quantity}: given (--ephemeral-storage) first, else the
    estimate for data_bytes with a margin; tasks without either get nothing."""
    found = {}
    for task in tasks:
        if task in given:
            found[task] = given[task]
        elif data_bytes is not None:
            found[task] = quantity(int(staged_bytes(task, data_bytes) * MARGIN))
    return found
