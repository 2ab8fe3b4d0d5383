"""Execute a compiled pipeline here, every task the way a Kubeflow pod runs it.

A small harness that follows KFP v2's driver and launcher contracts, not Kubeflow's own
local runner: the KFP SDK's `kfp.local` (tried with SDK 2.17 in its own environment) runs
only Lightweight Python Components in its SubprocessRunner (TFX tasks are container
components), its DockerRunner needs a Docker engine (none here), and it has no
`preCacheCheck` lifecycle hook.

Each task starts once its upstream tasks have succeeded, beside any other task that is
ready (as KFP's DAG driver starts them); for each, as KFP's driver and launcher do:
- the executor input JSON: `inputs.parameterValues` (constants, pipeline parameters,
  upstream output parameters), `inputs.artifacts` (the upstream tasks' output artifacts,
  `uri` and `metadata` as their executors wrote them), `outputs.artifacts` with new URIs
  under the pipeline root (`<root>/<pipeline>/<run id>/<task>/<output>`), the output files;
- the container's command and args with `{{$}}` replaced by that JSON, `python` being this
  environment's interpreter (the image's, on a cluster);
- the executor output read back: its artifacts, with their metadata, and parameters are
  what downstream tasks get.
The platforms differ where KFP's do (PLATFORMS):
- `oss` (open-source KFP's driver and launcher, backend/src/v2): input artifacts without
  their type; no `preCacheCheck`; the pipeline root must be an object store; each task runs
  in a pod folder of its own, where the launcher downloads every input artifact before the
  command and uploads the outputs after it, and where the executor output is read from the
  launcher's fixed path (launcher.py);
- `vertex`: input artifacts typed; the `preCacheCheck` hook runs first (its outputs enter
  the cache key); the executor output file sits under the pipeline root; any root, a local
  folder included; no staging (Vertex's tasks read the store through their own mounts).

Caching follows open-source KFP's rule (backend/src/v2/driver/cache.go): a task whose
`cachingOptions.enableCache` is on is skipped, and its earlier outputs handed on, when its
cache key matches an earlier execution's: the input artifacts' names, the input parameter
values (with the preCacheCheck hook's outputs merged in, as Vertex does), the output
artifacts' types, the command, args and image. The keys live in the harness's state folder.

What it does not reproduce: the cluster (pods, images, resources, node selectors), Argo,
ML Metadata and KFP's cache server (a folder of keys stands in for it), retries, and
KFP's UI.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import tensorflow as tf
import yaml

from components.common.paths import join
from pipeline.runners.kfp_local import launcher
from pipeline.runners.kfp_local.platforms import OSS, PLATFORMS, Platform

EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"


class TaskFailed(RuntimeError):
    """A task's command exited with an error; the message names the task and its log."""


@dataclasses.dataclass
class TaskRun:
    """What one task did: its executor input and output, how long, where its log is."""

    name: str
    executor_input: dict
    executor_output: dict
    seconds: float
    log: str
    pre_cache_check: dict | None = None  # the preCacheCheck hook's output, if it has one
    cached: bool = False  # its outputs came from an earlier execution with the same key
    staged: launcher.Staged | None = None  # what the launcher moved (oss)
    command_seconds: float = 0.0  # the container command's own time (the rest: the harness)


def load_pipeline_spec(package: str) -> dict:
    """The PipelineSpec of a compiled package: a .yaml (first document) or a .json PipelineJob."""
    with open(package) as f:
        if package.endswith(".json"):
            job = json.load(f)
            return job.get("pipelineSpec", job)
        return next(yaml.safe_load_all(f))


def upstream_tasks(spec: dict) -> dict[str, set[str]]:
    """Each task of the root DAG: the tasks it depends on (or takes an input from)."""
    tasks = spec["root"]["dag"]["tasks"]

    def upstream(task: dict) -> set[str]:
        found = set(task.get("dependentTasks", []))
        for source in task.get("inputs", {}).get("artifacts", {}).values():
            if "taskOutputArtifact" in source:
                found.add(source["taskOutputArtifact"]["producerTask"])
        for source in task.get("inputs", {}).get("parameters", {}).values():
            if "taskOutputParameter" in source:
                found.add(source["taskOutputParameter"]["producerTask"])
        return found

    return {name: upstream(task) for name, task in tasks.items()}


def dag_order(spec: dict) -> list[str]:
    """The root DAG's tasks, each after every task it depends on."""
    upstream = upstream_tasks(spec)
    order, done = [], set()
    pending = sorted(upstream)
    while pending:
        ready = [name for name in pending if upstream[name] <= done]
        if not ready:
            raise ValueError(f"the DAG has a cycle among {pending}")
        for name in ready:
            order.append(name)
            done.add(name)
            pending.remove(name)
    return order


def _parameter_value(source: dict, pipeline_parameters: dict[str, Any],
                     outputs: dict[str, TaskRun]) -> Any:
    if "runtimeValue" in source:
        value = source["runtimeValue"]
        if "constant" not in value:
            raise ValueError(f"unsupported runtime value {value} (compile with pipeline spec "
                             "schema 2.1)")
        return value["constant"]
    if "componentInputParameter" in source:
        return pipeline_parameters[source["componentInputParameter"]]
    if "taskOutputParameter" in source:
        producer = source["taskOutputParameter"]
        return outputs[producer["producerTask"]].executor_output["parameterValues"][
            producer["outputParameterKey"]]
    raise ValueError(f"unsupported parameter source {source}")


def executor_input(spec: dict, task_name: str, pipeline_parameters: dict[str, Any],
                   outputs: dict[str, TaskRun], run_root: str, typed: bool = False,
                   pod: str | None = None) -> dict:
    """The ExecutorInput KFP v2's driver hands a task: its inputs, and its outputs' URIs.

    typed: input artifacts keep their TFX type, as Vertex passes them; open-source KFP's
    driver (the default here) leaves it out. pod: the task's pod folder, where open-source
    KFP's output files are (its fixed paths); None: under the run root, as Vertex has them.
    """
    task = spec["root"]["dag"]["tasks"][task_name]
    component = spec["components"][task["componentRef"]["name"]]
    parameters = {name: _parameter_value(source, pipeline_parameters, outputs)
                  for name, source in task.get("inputs", {}).get("parameters", {}).items()}
    artifacts = {}
    for name, source in task.get("inputs", {}).get("artifacts", {}).items():
        producer = source["taskOutputArtifact"]
        produced = outputs[producer["producerTask"]].executor_output["artifacts"][
            producer["outputArtifactKey"]]
        artifacts[name] = {"artifacts": [
            artifact if typed else {**artifact, "type": {"instanceSchema": ""}}
            for artifact in produced["artifacts"]]}
    task_root = join(run_root, task_name)
    output_artifacts = {
        key: {"artifacts": [{
            "name": f"{run_root.rstrip('/').rsplit('/', 1)[-1]}/{task_name}/{key}",
            "type": definition["artifactType"],
            "uri": join(task_root, key),
            "metadata": {},
        }]}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items()
    }
    parameters_dir = (launcher.in_pod(pod, launcher.OUTPUT_PARAMETERS) if pod
                      else join(task_root, "parameters"))
    output_parameters = {
        key: {"outputFile": os.path.join(parameters_dir, key)}
        for key in component.get("outputDefinitions", {}).get("parameters", {})
    }
    output_file = (launcher.in_pod(pod, launcher.OUTPUT_METADATA) if pod
                   else join(task_root, "executor_output.json"))
    return {"inputs": {"parameterValues": parameters, "artifacts": artifacts},
            "outputs": {"artifacts": output_artifacts, "parameters": output_parameters,
                        "outputFile": output_file}}


def container_of(spec: dict, task_name: str) -> dict:
    task = spec["root"]["dag"]["tasks"][task_name]
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    executor = spec["deploymentSpec"]["executors"][label]
    if "container" not in executor:
        raise ValueError(f"task {task_name}: only container executors run here (got "
                         f"{sorted(executor)}); compile without resolver or importer nodes")
    return executor["container"]


def command_line(command: list[str], args: list[str], executor_input_json: str,
                 python: str) -> list[str]:
    """The container command with this environment's python and the executor input filled in."""
    command = [python if part == "python" else part for part in command]
    return command + [executor_input_json if arg == EXECUTOR_INPUT_PLACEHOLDER else arg
                      for arg in args]


def _run(command: list[str], log_path: str, env: dict[str, str] | None) -> None:
    with open(log_path, "ab") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                check=False)
    if result.returncode:
        raise TaskFailed(f"exit code {result.returncode}")


def _read_json(path: str) -> dict:
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def pre_cache_check(spec: dict, task_name: str, the_input: dict, python: str,
                    log_path: str, env: dict[str, str] | None = None) -> dict | None:
    """Runs the task's preCacheCheck hook (if any) and returns what it wrote to the output file."""
    lifecycle = container_of(spec, task_name).get("lifecycle", {}).get("preCacheCheck")
    if not lifecycle:
        return None
    tf.io.gfile.makedirs(os.path.dirname(the_input["outputs"]["outputFile"]))
    _run(command_line(lifecycle["command"], lifecycle.get("args", []), json.dumps(the_input),
                      python), log_path, env)
    return _read_json(the_input["outputs"]["outputFile"])


def cache_key(the_input: dict, container: dict) -> str:
    """The task's cache key, made of what open-source KFP's GenerateCacheKey takes."""
    key = {
        "inputArtifactNames": {name: [a["name"] for a in artifacts["artifacts"]]
                               for name, artifacts in the_input["inputs"]["artifacts"].items()},
        "inputParameterValues": the_input["inputs"]["parameterValues"],
        "outputArtifactsSpec": {name: [{"type": a["type"], "metadata": a.get("metadata", {})}
                                       for a in artifacts["artifacts"]]
                                for name, artifacts in the_input["outputs"]["artifacts"].items()},
        "outputParametersSpec": sorted(the_input["outputs"]["parameters"]),
        "containerSpec": {"image": container.get("image", ""),
                          "cmdArgs": container["command"] + container.get("args", [])},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def execute(package: str, pipeline_root: str, parameters: dict[str, Any] | None = None,
            python: str = sys.executable, on_task: Callable[[str], None] = print,
            run_id: str | None = None, extra_env: dict[str, str] | None = None,
            tasks: set[str] | None = None, platform: str = OSS,
            state_dir: str | None = None) -> dict[str, TaskRun]:
    """Runs every task (or only `tasks`) of the compiled package as the platform does
    (PLATFORMS): each task once its upstream tasks have succeeded, side by side; tasks whose
    cache key matches an earlier execution's are skipped, their outputs reused. ValueError for
    a root the platform refuses; TaskFailed names the (first) task that failed. state_dir: the
    harness's own files (logs, pods, cache keys; default `<package's folder>/kfp-local`).
    Returns each task's run."""
    contract = PLATFORMS[platform]
    if contract.stages_artifacts:
        launcher.check_pipeline_root(pipeline_root)
    spec = load_pipeline_spec(package)
    defaults = {name: definition.get("defaultValue") for name, definition in
                spec["root"].get("inputDefinitions", {}).get("parameters", {}).items()}
    pipeline_parameters = {**defaults, **(parameters or {})}
    run_id = run_id or f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    root = pipeline_root if "://" in pipeline_root else os.path.abspath(pipeline_root)
    pipeline_name = spec["pipelineInfo"]["name"]
    run_root = join(root, pipeline_name, run_id)
    state = os.path.join(state_dir or os.path.join(os.path.dirname(os.path.abspath(package)),
                                                   "kfp-local"), pipeline_name)
    logs, cache_dir = os.path.join(state, run_id, "logs"), os.path.join(state, "cache", platform)
    os.makedirs(logs, exist_ok=True)
    os.makedirs(cache_dir, exist_ok=True)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(extra_env or {})}
    wanted = set(spec["root"]["dag"]["tasks"]) if tasks is None else set(tasks)
    upstream = upstream_tasks(spec)
    runs: dict[str, TaskRun] = {}
    running: dict[concurrent.futures.Future, tuple[str, str | None, str]] = {}
    failure: TaskFailed | None = None

    def start_ready(pool: concurrent.futures.Executor) -> None:
        started = {name for name, _, _ in running.values()}
        for name in dag_order(spec):
            # A task outside `tasks` counts as done: its dependents use what they are given.
            settled = set(runs) | (set(upstream) - wanted)
            if (name not in wanted or name in runs or name in started
                    or not upstream[name] <= settled):
                continue
            pod = os.path.join(state, run_id, "pods", name) if contract.stages_artifacts else None
            the_input = executor_input(spec, name, pipeline_parameters, runs, run_root,
                                       typed=contract.typed_inputs, pod=pod)
            log = os.path.join(logs, f"{name}.log")
            on_task(f"▶ {name}")
            future = pool.submit(_run_task, spec, name, the_input, contract, pod, cache_dir,
                                 python, log, env)
            running[future] = (name, pod, log)

    # KFP's DAG driver starts every task whose upstream tasks have succeeded, side by side;
    # after a failure it starts no new task and lets the running ones finish.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        start_ready(pool)
        while running:
            done, _ = concurrent.futures.wait(running, return_when="FIRST_COMPLETED")
            for future in done:
                name, pod, log = running.pop(future)
                try:
                    runs[name] = future.result()
                except (TaskFailed, launcher.StagingError) as error:
                    kept = f"; its pod's files: {pod}" if pod else ""
                    failure = failure or TaskFailed(
                        f"task {name} failed ({error}); its log: {log}{kept}")
                    continue
                if pod:
                    shutil.rmtree(pod, ignore_errors=True)  # a pod's disk goes with the pod
                on_task(f"✓ {name} "
                        f"({'cached' if runs[name].cached else f'{runs[name].seconds} s'})")
            if failure is None:
                start_ready(pool)
    if failure is not None:
        raise failure
    return runs


def _run_task(spec: dict, name: str, the_input: dict, contract: Platform, pod: str | None,
              cache_dir: str, python: str, log: str, env: dict[str, str]) -> TaskRun:
    """One task as its platform runs it: (the hook,) the cache, (staging,) the command."""
    started = time.monotonic()
    container = container_of(spec, name)
    _prepare_output_folders(the_input, pod)
    checked = (pre_cache_check(spec, name, the_input, python, log, env)
               if contract.runs_pre_cache_check else None)
    keyed = json.loads(json.dumps(the_input))
    keyed["inputs"]["parameterValues"].update((checked or {}).get("parameterValues", {}))
    cached_file = os.path.join(cache_dir, cache_key(keyed, container) + ".json")
    caching = spec["root"]["dag"]["tasks"][name].get("cachingOptions", {}).get(
        "enableCache", False)
    if caching and os.path.exists(cached_file):
        return TaskRun(name, the_input, _read_json(cached_file),
                       round(time.monotonic() - started, 1), log, checked, cached=True)
    staged = launcher.Staged() if pod else None
    if pod:
        for artifacts in the_input["inputs"]["artifacts"].values():
            if artifacts["artifacts"]:  # the launcher stages the first of a list
                launcher.download(artifacts["artifacts"][0]["uri"], pod, staged)
    command_started = time.monotonic()
    _run(command_line(container["command"], container.get("args", []), json.dumps(the_input),
                      python), log, env)
    command_seconds = time.monotonic() - command_started
    output = _read_json(the_input["outputs"]["outputFile"])
    output.setdefault("parameterValues", {})
    output["artifacts"] = _published(the_input["outputs"]["artifacts"],
                                     output.get("artifacts", {}))
    if pod:
        for artifacts in the_input["outputs"]["artifacts"].values():
            for artifact in artifacts["artifacts"]:
                launcher.upload(artifact["uri"], pod, staged)
    if caching:
        with open(cached_file, "w") as f:
            json.dump(output, f)
    return TaskRun(name, the_input, output, round(time.monotonic() - started, 1), log, checked,
                   staged=staged, command_seconds=round(command_seconds, 1))


def _prepare_output_folders(the_input: dict, pod: str | None) -> None:
    """prepareOutputFolders: the parent folders of the output files and of the outputs' local
    paths (the pod's, on open-source KFP; a local root's own, on Vertex here)."""
    outputs = the_input["outputs"]
    files = [outputs["outputFile"], *(p["outputFile"] for p in outputs["parameters"].values())]
    for artifacts in outputs["artifacts"].values():
        for artifact in artifacts["artifacts"]:
            if pod:
                files.append(launcher.local_path(pod, artifact["uri"]))
            elif "://" not in artifact["uri"]:
                files.append(artifact["uri"])
    for file in files:
        tf.io.gfile.makedirs(os.path.dirname(file))


def _published(given: dict, reported: dict) -> dict:
    """The output artifacts as the next tasks receive them: what the executor reported (URI,
    metadata) on top of what it was given, the type always from the component's spec (as
    KFP records it; TFX's executor output leaves it out)."""
    published = {}
    for key, artifacts in given.items():
        told = reported.get(key, {}).get("artifacts", [])
        published[key] = {"artifacts": [
            {**artifact, **(told[i] if i < len(told) else {}), "type": artifact["type"]}
            for i, artifact in enumerate(artifacts["artifacts"])]}
    return published


def pushed_destination(runs: dict[str, TaskRun]) -> str | None:
    """Where the Pusher pushed the model (None when it was not blessed, so not pushed)."""
    for run in runs.values():
        for artifacts in run.executor_output["artifacts"].values():
            for artifact in artifacts["artifacts"]:
                metadata = artifact.get("metadata", {})
                if metadata.get("pushed") in (1, 1.0, "1") and metadata.get("pushed_destination"):
                    return metadata["pushed_destination"]
    return None
