"""Compile the same create_pipeline for Kubeflow Pipelines v2 with TFX's KubeflowV2DagRunner.

- `.json` output: a PipelineJob (Vertex AI Pipelines; GPUs through the ResourceSpec).
- `.yaml` output: the PipelineSpec plus a second YAML document, the Kubernetes platform
  spec in kfp-kubernetes's format (node selector, tolerations for GPU node pools), which
  open-source KFP v2 reads. kfp-kubernetes 1.0.0 (the one that fits kfp 2.5 and
  protobuf 3) has no tolerations yet, so they are written in the field layout later
  versions use (`tolerations: [{key, operator, value, effect}]`).

Component code is referenced by module path (`run_fn`, `preprocessing_fn`, executor
classes) inside the image, where this project is installed (see the Dockerfile); no
module file is packaged into the pipeline root.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import yaml
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.data_types import RuntimeParameter
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipeline.config import PipelineConfig
from pipeline.data_layout import DataLayout
from pipeline.kubeflow_options import PACKAGE_EXTENSIONS, KubeflowOptions
from pipeline.pipeline import create_pipeline

DATA_ROOT_PARAMETER = "data_root"  # `visionpipe submit --param data_root=gs://...`
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


def _executor_label(spec: dict, task: str) -> str:
    component = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    return spec["components"][component]["executorLabel"]


def kubernetes_platform_spec(spec: dict, options: KubeflowOptions, tasks: list[str]) -> dict:
    """The PlatformSpec document: node selector and tolerations for the GPU tasks' executors."""
    executors = {}
    for task in tasks:
        if task not in spec["root"]["dag"]["tasks"]:
            continue
        config: dict = {}
        if options.node_selector:
            config["nodeSelector"] = {"labels": dict(options.node_selector)}
        if options.tolerations:
            config["tolerations"] = [dict(t) for t in options.tolerations]
        if config:
            executors[_executor_label(spec, task)] = config
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def compile_pipeline(config: PipelineConfig, layout: DataLayout, options: KubeflowOptions,
                     output: str) -> str:
    """Compiles to output (.json PipelineJob or .yaml PipelineSpec + platform spec); returns it."""
    if not output.endswith(PACKAGE_EXTENSIONS):
        raise ValueError(f"--package {output}: use a .json (PipelineJob) or .yaml file")
    options = options.gpu_node_defaults()
    data_root = RuntimeParameter(name=DATA_ROOT_PARAMETER, ptype=str, default=layout.input_base)
    pipeline = create_pipeline(kubeflow_config(config, options), layout, input_base=data_root)
    for component in pipeline.components:
        if component.id in (TRAINER, TUNER):
            component.with_platform_config(resource_spec(options))
    runner_config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=options.image)
    with tempfile.TemporaryDirectory() as scratch:
        job = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=runner_config, output_dir=scratch, output_filename="pipeline.json",
        ).run(pipeline, parameter_values={DATA_ROOT_PARAMETER: layout.input_base},
              write_out=False)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    if output.endswith(".json"):
        with open(output, "w") as f:
            json.dump(job, f, indent=2, sort_keys=True)
        return output
    spec = job["pipelineSpec"]
    # PipelineSpec alone has no runtimeConfig: the default travels in the parameter's spec.
    spec["root"]["inputDefinitions"]["parameters"][DATA_ROOT_PARAMETER]["defaultValue"] = (
        layout.input_base)
    platform = kubernetes_platform_spec(spec, options, [TRAINER, TUNER])
    with open(output, "w") as f:
        yaml.safe_dump_all([spec, platform] if platform["platforms"]["kubernetes"][
            "deploymentSpec"]["executors"] else [spec], f, sort_keys=True)
    return output
