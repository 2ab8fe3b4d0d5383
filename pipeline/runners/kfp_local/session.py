"""One `visionpipe kfp-local`: the object store the pipeline root needs, then the execution.

An s3:// root with no S3 endpoint in the environment (AWS_ENDPOINT_URL) gets the local S3
API server (s3_server.py) for the execution: its bucket is created, local folders are
copied in where asked (the data a cluster's bucket would hold), and when the execution ends
the bucket is copied out to the harness's state folder, since the server keeps it in memory.
With an endpoint in the environment (a MinIO, say), that store is used as it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from typing import Any

from pipeline.runners.kfp_local import harness
from pipeline.runners.kfp_local.s3_server import BUCKET_SCHEME, LocalS3, S3Store, split_uri


@dataclasses.dataclass
class Session:
    """What an execution did: each task's run, where the model was pushed, and (with the
    local server) where the bucket was copied to."""

    runs: dict[str, harness.TaskRun]
    pushed: str | None
    bucket_copy: str | None = None


def parse_copy_in(pairs: list[str]) -> list[tuple[str, str]]:
    """['DIR=s3://bucket/path', ...] -> [(DIR, URI)]; ValueError naming a bad one."""
    found = []
    for pair in pairs:
        folder, sep, uri = pair.partition("=")
        if not sep or not os.path.isdir(folder) or not uri.startswith(BUCKET_SCHEME):
            raise ValueError(f"--copy-in {pair!r}: use DIR=s3://bucket/path with an existing DIR")
        found.append((folder, uri))
    return found


def run(package: str, pipeline_root: str, parameters: dict[str, Any], platform: str,
        copy_in: list[tuple[str, str]], on_task: Callable[[str], None],
        state_dir: str | None = None) -> Session:
    """Executes the package (harness.execute), with the local S3 server when the root needs
    one and none is configured."""
    state = state_dir or os.path.join(os.path.dirname(os.path.abspath(package)), "kfp-local")
    local = pipeline_root.startswith(BUCKET_SCHEME) and "AWS_ENDPOINT_URL" not in os.environ
    if copy_in and not pipeline_root.startswith(BUCKET_SCHEME):
        raise ValueError("--copy-in copies into the S3 store of an s3:// pipeline root")
    with LocalS3() if local else contextlib.nullcontext(S3Store()) as store:
        if local:
            on_task(f"S3 API server (moto) at {store.endpoint} for {pipeline_root}")
            store.create_bucket(pipeline_root)
        for folder, uri in copy_in:
            on_task(f"copied {store.copy_in(folder, uri)} files of {folder} to {uri}")
        copy = None
        try:
            runs = harness.execute(package, pipeline_root, parameters, on_task=on_task,
                                   platform=platform, state_dir=state)
        finally:
            if local:
                bucket, _ = split_uri(pipeline_root)
                copy = os.path.join(state, "bucket", bucket)
                store.copy_out(f"{BUCKET_SCHEME}{bucket}", copy)
                on_task(f"the bucket {BUCKET_SCHEME}{bucket} copied to {copy}")
    return Session(runs, harness.pushed_destination(runs), copy)
