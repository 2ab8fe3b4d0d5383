"""How the pipeline runs on Kubeflow: the image, the pipeline root, resources and scheduling.

Kept apart from the compiler (kubeflow_v2_runner.py) so the command line is built
without importing TFX's Kubeflow runner.
"""

from __future__ import annotations

import dataclasses

from components.common.settings import setting
from components.common.sizes import parse_bytes

PACKAGE_EXTENSIONS = (".json", ".yaml", ".yml")
BEAM_RUNNERS = ("DataflowRunner", "FlinkRunner", "SparkRunner", "FnApiRunner", "DirectRunner")
KUBEFLOW = "Kubeflow"  # the argparse group of the compile options
# The Trainer's (and Tuner's) scratch volume: an emptyDir mounted over /tmp, where the
# decode cache (components/trainer/decode_cache.py) spills by default (tempfile's folder).
SCRATCH_VOLUME = "scratch"
SCRATCH_MOUNT = "/tmp"
STAGING_VOLUME = "staging"  # every task's emptyDir where KFP's launcher stages artifacts


def node_selector_pair(text: str) -> tuple[str, str]:
    """'KEY=VALUE' -> (KEY, VALUE); ValueError otherwise (argparse reports it)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--node-selector {text!r}: use KEY=VALUE")
    return key, value


def task_size(text: str) -> tuple[str, str]:
    """'Trainer=40Gi' -> ('Trainer', '40Gi'); ValueError otherwise (argparse reports it)."""
    task, sep, size = text.partition("=")
    if not sep or not task:
        raise ValueError(f"--ephemeral-storage {text!r}: use TASK=SIZE, e.g. Trainer=40Gi")
    parse_bytes(size, "--ephemeral-storage")
    return task, size


def toleration(text: str) -> dict[str, str]:
    """'KEY[=VALUE][:EFFECT]' -> a Kubernetes toleration (Equal with a value, else Exists)."""
    key, _, rest = text.partition("=")
    value, _, effect = rest.partition(":")
    if not value and ":" in key:
        key, _, effect = key.partition(":")
    found = {"key": key, "operator": "Equal" if value else "Exists"}
    if value:
        found["value"] = value
    if effect:
        found["effect"] = effect
    return found


@dataclasses.dataclass(frozen=True)
class KubeflowOptions:
    """Where and how the pipeline runs on Kubeflow: image, root, resources, scheduling."""

    image: str = setting(flag="--image", help="the container image with this project installed",
                         group=KUBEFLOW)
    pipeline_root: str = setting(flag="--pipeline-root", help="gs://, s3:// or a mounted path",
                                 group=KUBEFLOW)
    gpu_type: str | None = setting(
        None, "--gpu-type", "e.g. nvidia.com/gpu (open-source KFP) or NVIDIA_TESLA_T4 (Vertex)",
        group=KUBEFLOW)
    gpus: int = setting(0, "--gpus", "GPUs for the Trainer (and Tuner)", group=KUBEFLOW, type=int)
    cpu_limit: float = setting(4.0, "--cpu-limit", "CPUs for the Trainer (and Tuner)",
                               group=KUBEFLOW, type=float)
    memory_limit: float = setting(16.0, "--memory-limit", "GB for the Trainer (and Tuner)",
                                  group=KUBEFLOW, type=float)
    node_selector: tuple[tuple[str, str], ...] = setting(
        (), "--node-selector", "node selector for the GPU tasks, repeatable", group=KUBEFLOW,
        action="append", type=node_selector_pair, metavar="KEY=VALUE")
    tolerations: tuple[dict[str, str], ...] = setting(
        (), "--toleration", "toleration for the GPU tasks, repeatable (default with GPUs: "
        "nvidia.com/gpu Exists NoSchedule)", group=KUBEFLOW, action="append", type=toleration,
        metavar="KEY[=VALUE][:EFFECT]")
    scratch_size: str = setting(
        "50Gi", "--scratch-size", "size limit of the Trainer's (and Tuner's) emptyDir scratch "
        f"volume at {SCRATCH_MOUNT}, where decoded images beyond --cache-memory go (Kubernetes "
        "quantity; about height x width x channels bytes per image)", group=KUBEFLOW)
    data_size: str | None = setting(
        None, "--data-size", "the data's size (e.g. 20GB), to size each pod's staging disk "
        "(default: measured when --data can be listed here)", group=KUBEFLOW)
    ephemeral_storage: tuple[tuple[str, str], ...] = setting(
        (), "--ephemeral-storage", "a task's staging disk on open-source KFP, where its launcher "
        "downloads the task's inputs (a Kubernetes quantity), repeatable; default: estimated "
        "from the data's size", group=KUBEFLOW, action="append", type=task_size,
        metavar="TASK=SIZE")
    beam_runner: str = setting(
        "FnApiRunner", "--beam-runner", "DataflowRunner, FlinkRunner or SparkRunner for big data "
        "(pass their options with --beam-arg)", group=KUBEFLOW, choices=BEAM_RUNNERS)

    def __post_init__(self) -> None:
        if self.gpus and not self.gpu_type:
            raise ValueError("--gpus needs --gpu-type (e.g. nvidia.com/gpu)")
        if self.beam_runner not in BEAM_RUNNERS:
            raise ValueError(f"--beam-runner must be one of {BEAM_RUNNERS}")
        if self.data_size is not None:
            parse_bytes(self.data_size, "--data-size")

    def gpu_node_defaults(self) -> KubeflowOptions:
        """With GPUs and no scheduling given: tolerate the usual GPU taint."""
        if self.gpus and not self.tolerations:
            return dataclasses.replace(self, tolerations=(
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},))
        return self
