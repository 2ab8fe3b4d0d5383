"""Compile the same create_pipeline for Kubeflow Pipelines v2 with TFX's KubeflowV2DagRunner.

- `.json` output: a PipelineJob (Vertex AI Pipelines; GPUs through the ResourceSpec).
- `.yaml` output: the PipelineSpec plus a second YAML document, the Kubernetes platform
  spec in kfp-kubernetes's format (node selector, tolerations for GPU node pools), which
  open-source KFP v2 reads. kfp-kubernetes 1.0.0 (the one that fits kfp 2.5 and
  protobuf 3) has no tolerations yet, so they are written in the field layout later
  versions use (`tolerations: [{key, operator, value, effect}]`), and so is the Trainer's
  scratch volume (`emptyDirMounts: [{volumeName, mountPath, sizeLimit}]`, kfp-kubernetes's
  `empty_dir_mount`): an emptyDir over /tmp, where the decode cache spills.

Component code is referenced by module path (`run_fn`, `preprocessing_fn`, executor
classes) inside the image, where this project is installed (see the Dockerfile); no
module file is packaged into the pipeline root.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import tensorflow as tf
import yaml
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.data_types import RuntimeParameter
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from components.common.sizes import parse_bytes
from components.image_example_gen import sources
from components.image_example_gen.layout import DataLayout, newest_span
from components.kfp import entrypoint as kfp_entrypoint
from components.kfp import example_gen_driver
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.runners import staging_disk
from pipeline.runners.kfp_local.platforms import LAUNCHER_LOCAL_ROOTS
from pipeline.runners.kubeflow_options import (
    PACKAGE_EXTENSIONS,
    SCRATCH_MOUNT,
    SCRATCH_VOLUME,
    STAGING_VOLUME,
    KubeflowOptions,
)

DATA_ROOT_PARAMETER = "data_root"  # `visionpipe submit --param data_root=gs://...`
EXAMPLE_GEN = "ImageExampleGen"
FINGERPRINT = "DataFingerprint"
EVALUATOR = "Evaluator"
PUSHER = "Pusher"
TRAINER = "Trainer"
TUNER = "Tuner"


def resource_spec(options: KubeflowOptions):
    """The Trainer's (and Tuner's) ResourceSpec: CPU and memory limits, the accelerator."""
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
        cpu_limit=options.cpu_limit, memory_limit=options.memory_limit)
    if options.gpus:
        spec.accelerator.type = options.gpu_type
        spec.accelerator.count = options.gpus
    return spec


def kubeflow_config(config: PipelineConfig, options: KubeflowOptions) -> PipelineConfig:
    """The run config as it runs on Kubeflow: remote root and Beam runner, GPU distribution."""
    distribution = "mirrored" if options.gpus > 1 else "default"
    return dataclasses.replace(
        config, beam_args=(f"--runner={options.beam_runner}",),
        artifacts_root=options.pipeline_root,
        training=config.training.replace(distribution=distribution))


def use_tree_fingerprint(spec: dict) -> None:
    """The ExampleGen's preCacheCheck hook runs our driver (components/kfp/
    example_gen_driver.py: TFX's, with a fingerprint of every file), so new, removed or
    replaced images change the cache key."""
    executor = spec["deploymentSpec"]["executors"][_executor_label(spec, EXAMPLE_GEN)]
    executor["container"]["lifecycle"]["preCacheCheck"]["command"] = list(example_gen_driver.COMMAND)


def type_input_artifacts(spec: dict) -> None:
    """Every executor runs through kfp_entrypoint.py: TFX's runner, with the input artifacts'
    types filled in where open-source KFP's driver leaves them out."""
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor.get("container", {})
        if container.get("command", [])[-1:] == [kfp_entrypoint.TFX_RUNNER]:
            container["command"] = list(kfp_entrypoint.COMMAND)


def name_parameter_producers(spec: dict) -> None:
    """TFX 1.16's step builder names the producer of a parameter passed between tasks
    `<id>_task`, while the task is named `<id>`: point each reference at the real task."""
    tasks = spec["root"]["dag"]["tasks"]
    for task in tasks.values():
        for source in task.get("inputs", {}).get("parameters", {}).values():
            producer = source.get("taskOutputParameter", {}).get("producerTask", "")
            if producer not in tasks and producer.removesuffix("_task") in tasks:
                source["taskOutputParameter"]["producerTask"] = producer.removesuffix("_task")


def _executor_label(spec: dict, task: str) -> str:
    component = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    return spec["components"][component]["executorLabel"]


def kubernetes_platform_spec(spec: dict, options: KubeflowOptions,
                             staging: dict[str, str]) -> dict:
    """The PlatformSpec document: every task's staging emptyDir (staging: {task: size}) at
    the launcher's local path of the pipeline root's scheme; for the Trainer and Tuner also
    the node selector and tolerations of GPU node pools and the decode cache's scratch
    emptyDir."""
    executors: dict[str, dict] = {}
    mount = next((path for scheme, path in LAUNCHER_LOCAL_ROOTS.items()
                  if options.pipeline_root.startswith(scheme)), None)
    for task in spec["root"]["dag"]["tasks"]:
        config: dict = {}
        if task in staging and mount:
            config["emptyDirMounts"] = [{"volumeName": STAGING_VOLUME, "mountPath": mount,
                                         "sizeLimit": staging[task]}]
        if task in (TRAINER, TUNER):
            config.setdefault("emptyDirMounts", []).append({
                "volumeName": SCRATCH_VOLUME, "mountPath": SCRATCH_MOUNT,
                "sizeLimit": options.scratch_size})
            if options.node_selector:
                config["nodeSelector"] = {"labels": dict(options.node_selector)}
            if options.tolerations:
                config["tolerations"] = [dict(t) for t in options.tolerations]
        if config:
            executors[_executor_label(spec, task)] = config
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def data_bytes(layout: DataLayout, config: PipelineConfig, options: KubeflowOptions) -> int | None:
    """The data's size: --data-size, else measured from the newest span when it can be
    listed here (None when it cannot: --class-names data)."""
    if options.data_size:
        return parse_bytes(options.data_size, "--data-size")
    try:
        fingerprint = sources.source(config.ingest.data_format).fingerprint(
            layout.input_base, [split.pattern for split in newest_span(layout)])
    except (OSError, tf.errors.OpError, ValueError):
        return None
    return int(fingerprint.split("bytes:", 1)[1].split(",", 1)[0])


@dataclasses.dataclass
class Compiled:
    """What compile wrote: the package, and each task's staging disk (the .yaml's emptyDirs;
    empty for a .json, or when the data's size is unknown)."""

    path: str
    staging: dict[str, str] = dataclasses.field(default_factory=dict)


def compile_pipeline(config: PipelineConfig, layout: DataLayout, options: KubeflowOptions,
                     output: str) -> Compiled:
    """Compiles to output (.json PipelineJob or .yaml PipelineSpec + platform spec)."""
    if not output.endswith(PACKAGE_EXTENSIONS):
        raise ValueError(f"--package {output}: use a .json (PipelineJob) or .yaml file")
    options = options.gpu_node_defaults()
    data_root = RuntimeParameter(name=DATA_ROOT_PARAMETER, ptype=str, default=layout.input_base)
    pipeline = create_pipeline(kubeflow_config(config, options), layout, input_base=data_root,
                               fingerprint_task=True)
    for component in pipeline.components:
        if component.id in (TRAINER, TUNER):
            component.with_platform_config(resource_spec(options))
    # Pipeline spec schema 2.1: typed parameters (`parameterValues` in the executor input)
    # and each executor told its input types, as KFP 2.x and Vertex run them.
    runner_config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
        default_image=options.image, use_pipeline_spec_2_1=True)
    with tempfile.TemporaryDirectory() as scratch:
        job = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=runner_config, output_dir=scratch, output_filename="pipeline.json",
        ).run(pipeline, parameter_values={DATA_ROOT_PARAMETER: layout.input_base},
              write_out=False)
    use_tree_fingerprint(job["pipelineSpec"])
    type_input_artifacts(job["pipelineSpec"])
    name_parameter_producers(job["pipelineSpec"])
    # Never taken from KFP's cache: the fingerprint must be taken afresh on every run, and
    # the Evaluator's baseline and the Pusher's target are what is served now, which no
    # cache key sees.
    for task in (FINGERPRINT, EVALUATOR, PUSHER):
        job["pipelineSpec"]["root"]["dag"]["tasks"][task]["cachingOptions"] = {
            "enableCache": False}
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    if output.endswith(".json"):
        with open(output, "w") as f:
            json.dump(job, f, indent=2, sort_keys=True)
        return Compiled(output)
    spec = job["pipelineSpec"]
    # PipelineSpec alone has no runtimeConfig: the defaults travel in the spec itself.
    spec["root"]["inputDefinitions"]["parameters"][DATA_ROOT_PARAMETER]["defaultValue"] = (
        layout.input_base)
    spec["defaultPipelineRoot"] = options.pipeline_root
    staging = staging_disk.disk_per_task(list(spec["root"]["dag"]["tasks"]),
                                         data_bytes(layout, config, options),
                                         dict(options.ephemeral_storage))
    platform = kubernetes_platform_spec(spec, options, staging)
    with open(output, "w") as f:
        yaml.safe_dump_all([spec, platform], f, sort_keys=True)
    return Compiled(output, staging)
