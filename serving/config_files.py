"""`visionpipe serving-config`: every TF Serving file for one model, generated from one place.

- models.config: ModelServerConfig (latest-version policy, `stable`/`canary` labels);
- batching_parameters.txt: server-side batching (`--enable_batching`);
- monitoring.config: Prometheus metrics at /monitoring/prometheus/metrics;
- k8s/: ConfigMap, Deployment (CPU and GPU variants), Service (8500 gRPC, 8501 REST),
  HorizontalPodAutoscaler. TF Serving runs as non-root with a read-only root filesystem.
"""

from __future__ import annotations

import dataclasses
import os

import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from tensorflow_serving.config import model_server_config_pb2

from components.common import features
from components.common.paths import is_local
from components.common.served_versions import version_dirs

TF_SERVING_IMAGE = "tensorflow/serving:2.16.1"
TF_SERVING_GPU_IMAGE = "tensorflow/serving:2.16.1-gpu"
CONFIG_MOUNT = "/config"
MODELS_MOUNT = "/models"
GRPC_PORT, REST_PORT = 8500, 8501


@dataclasses.dataclass(frozen=True)
class ServingSetup:
    """What the files describe: the model, where its versions are, and how to run TF Serving."""

    model_name: str
    model_base_path: str  # gs://, s3:// or a path on the pod's model volume
    namespace: str = "default"
    replicas: int = 1
    max_replicas: int = 4
    max_batch_size: int = 32
    batch_timeout_micros: int = 2000
    num_batch_threads: int = 4
    stable_version: int | None = None
    canary_version: int | None = None
    models_claim: str = "visionpipe-models"  # the PersistentVolumeClaim for a local base path

    def __post_init__(self) -> None:
        if not features.MODEL_NAME.match(self.model_name):
            raise ValueError(f"model name {self.model_name!r}: letters, digits, '.', '_', '-'")

    @property
    def on_volume(self) -> bool:
        return is_local(self.model_base_path)

    @property
    def served_base_path(self) -> str:
        """The base path as TF Serving in the pod sees it."""
        return f"{MODELS_MOUNT}/{self.model_name}" if self.on_volume else self.model_base_path


def with_labels_from_disk(setup: ServingSetup) -> ServingSetup:
    """stable = the previous pushed version, canary = the newest (both the newest if only one)."""
    if setup.stable_version is not None or not setup.on_volume:
        return setup
    versions = sorted(version_dirs(setup.model_base_path))
    if not versions:
        return setup
    return dataclasses.replace(setup, canary_version=versions[-1],
                               stable_version=versions[-2] if len(versions) > 1 else versions[-1])


def models_config(setup: ServingSetup) -> str:
    """The ModelServerConfig text proto (validated by building the real proto)."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = setup.model_name
    model.base_path = setup.served_base_path
    model.model_platform = "tensorflow"
    # Two versions stay loaded, so both labels can point at a served version.
    model.model_version_policy.latest.num_versions = 2
    if setup.stable_version is not None:
        model.version_labels["stable"] = setup.stable_version
        model.version_labels["canary"] = setup.canary_version or setup.stable_version
    return text_format.MessageToString(config)


def _batching_message_class():
    """BatchingParameters as TF Serving documents it (session_bundle_config.proto).

    tensorflow-serving-api ships no Python module for it, so the message is declared
    here with the documented field names and types, to parse the generated file
    strictly (an unknown or mistyped field is an error, as in TF Serving).
    """
    file = descriptor_pb2.FileDescriptorProto(name="visionpipe_batching.proto",
                                              package="visionpipe", syntax="proto3")
    wrappers = {"max_batch_size": 1, "batch_timeout_micros": 2, "max_enqueued_batches": 3,
                "num_batch_threads": 4}
    message = file.message_type.add(name="BatchingParameters")
    for name, number in wrappers.items():
        message.field.add(name=name, number=number, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                          type_name=".visionpipe.Int64Value",
                          label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    message.field.add(name="allowed_batch_sizes", number=6,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    value = file.message_type.add(name="Int64Value")
    value.field.add(name="value", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("visionpipe.BatchingParameters")
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)  # protobuf 3.20 API


BatchingParameters = _batching_message_class()


def batching_parameters(setup: ServingSetup) -> str:
    """The --batching_parameters_file text proto."""
    params = BatchingParameters()
    params.max_batch_size.value = setup.max_batch_size
    params.batch_timeout_micros.value = setup.batch_timeout_micros
    params.max_enqueued_batches.value = 100
    params.num_batch_threads.value = setup.num_batch_threads
    params.allowed_batch_sizes.extend(sorted({1, 2, 4, 8, 16, setup.max_batch_size}))
    return text_format.MessageToString(params)


def monitoring_config() -> str:
    """The --monitoring_config_file text proto (MonitoringConfig)."""
    return 'prometheus_config {\n  enable: true\n  path: "/monitoring/prometheus/metrics"\n}\n'


def _labels(setup: ServingSetup) -> dict[str, str]:
    return {"app.kubernetes.io/name": "tf-serving", "app.kubernetes.io/instance": setup.model_name}


def deployment(setup: ServingSetup, gpu: bool) -> dict:
    """The TF Serving Deployment; the GPU variant asks for a GPU and lands on GPU nodes."""
    name = f"{setup.model_name}-serving{'-gpu' if gpu else ''}"
    args = [f"--port={GRPC_PORT}", f"--rest_api_port={REST_PORT}",
            f"--model_config_file={CONFIG_MOUNT}/models.config",
            "--model_config_file_poll_wait_seconds=60",
            "--file_system_poll_wait_seconds=30",
            "--enable_batching=true", f"--batching_parameters_file={CONFIG_MOUNT}/batching_parameters.txt",
            f"--monitoring_config_file={CONFIG_MOUNT}/monitoring.config",
            "--grpc_max_threads=16"]
    resources = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "4", "memory": "4Gi"}}
    if gpu:
        resources["limits"]["nvidia.com/gpu"] = 1
    volumes = [{"name": "config", "configMap": {"name": f"{setup.model_name}-serving-config"}},
               {"name": "tmp", "emptyDir": {}}]
    mounts = [{"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
              {"name": "tmp", "mountPath": "/tmp"}]
    if setup.on_volume:
        volumes.append({"name": "models", "persistentVolumeClaim": {
            "claimName": setup.models_claim, "readOnly": True}})
        mounts.append({"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True})
    pod_spec = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                            "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "tf-serving",
            "image": TF_SERVING_GPU_IMAGE if gpu else TF_SERVING_IMAGE,
            "args": args,
            "ports": [{"name": "grpc", "containerPort": GRPC_PORT},
                      {"name": "http", "containerPort": REST_PORT}],
            "readinessProbe": {"httpGet": {"path": f"/v1/models/{setup.model_name}",
                                           "port": REST_PORT},
                               "initialDelaySeconds": 5, "periodSeconds": 10},
            "livenessProbe": {"tcpSocket": {"port": GRPC_PORT}, "initialDelaySeconds": 30,
                              "periodSeconds": 20},
            "resources": resources,
            "securityContext": {"readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": mounts,
        }],
        "volumes": volumes,
    }
    if gpu:
        pod_spec["nodeSelector"] = {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
        pod_spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists",
                                    "effect": "NoSchedule"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": setup.namespace, "labels": _labels(setup)},
            "spec": {"replicas": setup.replicas,
                     "selector": {"matchLabels": {**_labels(setup), "variant": "gpu" if gpu else "cpu"}},
                     "template": {"metadata": {"labels": {**_labels(setup),
                                                          "variant": "gpu" if gpu else "cpu"}},
                                  "spec": pod_spec}}}


def service(setup: ServingSetup) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"{setup.model_name}-serving", "namespace": setup.namespace,
                         "labels": _labels(setup)},
            "spec": {"selector": _labels(setup),
                     "ports": [{"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT},
                               {"name": "http", "port": REST_PORT, "targetPort": REST_PORT}]}}


def autoscaler(setup: ServingSetup, gpu: bool = False) -> dict:
    target = f"{setup.model_name}-serving{'-gpu' if gpu else ''}"
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": target, "namespace": setup.namespace, "labels": _labels(setup)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": target},
                     "minReplicas": setup.replicas, "maxReplicas": setup.max_replicas,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": 70}}}]}}


def config_map(setup: ServingSetup) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"{setup.model_name}-serving-config",
                         "namespace": setup.namespace, "labels": _labels(setup)},
            "data": {"models.config": models_config(setup),
                     "batching_parameters.txt": batching_parameters(setup),
                     "monitoring.config": monitoring_config()}}


def write_serving_config(setup: ServingSetup, output_dir: str) -> list[str]:
    """Writes every file below output_dir; returns their paths."""
    setup = with_labels_from_disk(setup)
    files = {
        "models.config": models_config(setup),
        "batching_parameters.txt": batching_parameters(setup),
        "monitoring.config": monitoring_config(),
        "k8s/configmap.yaml": yaml.safe_dump(config_map(setup), sort_keys=False),
        "k8s/deployment-cpu.yaml": yaml.safe_dump(deployment(setup, gpu=False), sort_keys=False),
        "k8s/deployment-gpu.yaml": yaml.safe_dump(deployment(setup, gpu=True), sort_keys=False),
        "k8s/service.yaml": yaml.safe_dump(service(setup), sort_keys=False),
        "k8s/hpa-cpu.yaml": yaml.safe_dump(autoscaler(setup, gpu=False), sort_keys=False),
        "k8s/hpa-gpu.yaml": yaml.safe_dump(autoscaler(setup, gpu=True), sort_keys=False),
    }
    written = []
    for relative, text in files.items():
        path = os.path.join(output_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        written.append(path)
    return written
