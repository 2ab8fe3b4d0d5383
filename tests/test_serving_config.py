"""Generated TF Serving configs parse with the protos; manifests pass kubernetes-validate."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.config_files import BatchingParameters, ServingSetup, write_serving_config


def _write(tmp_path, base_path, **kwargs) -> Path:
    write_serving_config(ServingSetup("cats-vs-dogs", base_path, **kwargs), str(tmp_path / "out"))
    return tmp_path / "out"


def test_models_config_parses_and_labels_point_at_pushed_versions(tmp_path):
    base = tmp_path / "serving" / "cats-vs-dogs"
    for version in ("1700000000", "1700000100"):
        (base / version).mkdir(parents=True)
    out = _write(tmp_path, str(base))
    config = text_format.Parse((out / "models.config").read_text(),
                               model_server_config_pb2.ModelServerConfig())
    model = config.model_config_list.config[0]
    assert model.name == "cats-vs-dogs" and model.model_platform == "tensorflow"
    assert model.base_path == "/models/cats-vs-dogs"  # the volume mount inside the pod
    assert model.model_version_policy.latest.num_versions == 2
    assert dict(model.version_labels) == {"stable": 1700000000, "canary": 1700000100}


def test_batching_and_monitoring_parse_strictly(tmp_path):
    out = _write(tmp_path, "gs://bucket/serving/cats-vs-dogs")
    batching = text_format.Parse((out / "batching_parameters.txt").read_text(), BatchingParameters())
    assert batching.max_batch_size.value == 32 and 32 in batching.allowed_batch_sizes
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 3 }", BatchingParameters())
    assert "enable: true" in (out / "monitoring.config").read_text()
    config = text_format.Parse((out / "models.config").read_text(),
                               model_server_config_pb2.ModelServerConfig())
    assert config.model_config_list.config[0].base_path == "gs://bucket/serving/cats-vs-dogs"


def test_manifests_pass_kubernetes_validate_and_are_locked_down(tmp_path):
    out = _write(tmp_path, str(tmp_path / "models"))
    manifests = sorted((out / "k8s").glob("*.yaml"))
    assert {m.name for m in manifests} == {"configmap.yaml", "deployment-cpu.yaml",
                                           "deployment-gpu.yaml", "service.yaml", "hpa-cpu.yaml",
                                           "hpa-gpu.yaml"}
    validator = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run([str(validator), "--strict", "-k", "1.30.0",
                             *map(str, manifests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    gpu = yaml.safe_load((out / "k8s" / "deployment-gpu.yaml").read_text())["spec"]["template"]
    container = gpu["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu" and gpu["spec"]["nodeSelector"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert gpu["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/models/cats-vs-dogs"
    service = yaml.safe_load((out / "k8s" / "service.yaml").read_text())
    assert sorted(p["port"] for p in service["spec"]["ports"]) == [8500, 8501]


def test_a_broken_manifest_fails_validation(tmp_path):
    out = _write(tmp_path, str(tmp_path / "models"))
    broken = yaml.safe_load((out / "k8s" / "service.yaml").read_text())
    broken["spec"]["ports"][0]["port"] = "not-a-number"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run([str(validator), "--strict", "-k", "1.30.0", str(path)],
                            capture_output=True, text=True)
    assert result.returncode != 0


def test_model_names_must_be_plain():
    with pytest.raises(ValueError, match="model name"):
        ServingSetup("../etc", "/tmp/x")
