"""The Kubeflow backends the harness runs a task as, and how they differ (harness.py's doc)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Platform:
    """How a Kubeflow backend runs a task (see the module doc)."""

    name: str
    typed_inputs: bool  # input artifacts keep their type
    runs_pre_cache_check: bool  # the preCacheCheck lifecycle hook runs before the task
    stages_artifacts: bool  # the launcher downloads inputs and uploads outputs in a pod


# Where open-source KFP's launcher stages an artifact of each store (LocalPathForURI).
LAUNCHER_LOCAL_ROOTS = {"gs://": "/gcs", "s3://": "/s3", "minio://": "/minio"}

OSS, VERTEX = "oss", "vertex"
PLATFORMS = {
    OSS: Platform(OSS, typed_inputs=False, runs_pre_cache_check=False, stages_artifacts=True),
    VERTEX: Platform(VERTEX, typed_inputs=True, runs_pre_cache_check=True,
                     stages_artifacts=False),
}
