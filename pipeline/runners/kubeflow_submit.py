"""`visionpipe submit`: upload a compiled pipeline to Kubeflow Pipelines and run it, once or on a cron.

Uses kfp.Client, so authentication is kfp's: `--token` (existing_token), `--cookies`, or
in-cluster credentials when run inside the cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import kfp
import yaml


@dataclasses.dataclass(frozen=True)
class Submitted:
    """What was created: a run or a recurring run, its id and where to look at it."""

    kind: str  # run | recurring run
    id: str
    url: str


def kfp_cron(schedule: str) -> str:
    """A 5-field cron ("0 3 * * *") as KFP's 6-field one with seconds ("0 0 3 * * *")."""
    fields = schedule.split()
    if len(fields) == 5:
        return "0 " + schedule.strip()
    if len(fields) == 6:
        return schedule.strip()
    raise ValueError(f"--schedule {schedule!r}: use cron with 5 fields, e.g. '0 3 * * *'")


def parse_params(pairs: list[str]) -> dict[str, str]:
    """k=v pairs -> dict; ValueError naming the bad one."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {pair!r}: use NAME=VALUE")
        params[key] = value
    return params


def _package(path: str, scratch: str) -> str:
    """kfp.Client takes PipelineSpec YAML; a compiled PipelineJob JSON is unwrapped to it."""
    if not path.endswith(".json"):
        return path
    with open(path) as f:
        job = json.load(f)
    spec = job.get("pipelineSpec", job)
    unwrapped = os.path.join(scratch, "pipeline.yaml")
    with open(unwrapped, "w") as f:
        yaml.safe_dump(spec, f)
    return unwrapped


def submit(package: str, host: str, namespace: str | None = None, experiment: str = "visionpipe",
           schedule: str | None = None, params: dict[str, str] | None = None,
           run_name: str | None = None, token: str | None = None,
           cookies: str | None = None) -> Submitted:
    """Creates a run (or a recurring run when schedule is given) of the compiled package."""
    if not os.path.isfile(package):
        raise FileNotFoundError(f"{package}: no such file; compile it first (visionpipe compile)")
    cron = kfp_cron(schedule) if schedule else None
    client = kfp.Client(host=host, namespace=namespace, existing_token=token, cookies=cookies)
    found = client.create_experiment(name=experiment, namespace=namespace)
    name = run_name or os.path.splitext(os.path.basename(package))[0]
    with tempfile.TemporaryDirectory() as scratch:
        path = _package(package, scratch)
        if schedule:
            recurring = client.create_recurring_run(
                experiment_id=found.experiment_id, job_name=name, cron_expression=cron,
                pipeline_package_path=path, params=params or {}, enable_caching=True)
            identifier = recurring.recurring_run_id
            return Submitted("recurring run", identifier,
                             f"{host.rstrip('/')}/#/recurringruns/details/{identifier}")
        run = client.run_pipeline(experiment_id=found.experiment_id, job_name=name,
                                  pipeline_package_path=path, params=params or {})
        return Submitted("run", run.run_id, f"{host.rstrip('/')}/#/runs/details/{run.run_id}")
