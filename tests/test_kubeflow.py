"""The pipeline compiled for Kubeflow Pipelines v2: the spec itself, and the spec executed.

No cluster here: the spec is checked with the kfp pipeline-spec and kfp-kubernetes protos;
test_kfp_local.py executes every task of it as KFP pods would; `submit` talks to a local
stand-in of the KFP REST API.
"""

import importlib
import json
from pathlib import Path

import pytest
import yaml
from conftest import run_main
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.cli import main
from pipeline.data_tools.demo import make_demo_data

IMAGE = "europe-docker.pkg.dev/project/visionpipe/visionpipe:1.0"
ROOT = "gs://bucket/visionpipe/root"
COMPONENTS = {"DataFingerprint", "ImageExampleGen", "StatisticsGen", "SchemaGen",
              "ExampleValidator", "AnomalyGate", "DataReview", "Transform", "Trainer", "Evaluator",
              "Pusher"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_demo_data(tmp_path_factory.mktemp("kfp") / "data", images_per_class=12)


@pytest.fixture(scope="module")
def compiled(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    common = ["--data", str(data), "--name", "shapes", "--image", IMAGE, "--pipeline-root", ROOT,
              "--image-size", "64", "--gpu-type", "nvidia.com/gpu", "--gpus", "2",
              "--node-selector", "cloud.google.com/gke-accelerator=nvidia-tesla-t4"]
    for name in ("pipeline.json", "pipeline.yaml"):
        assert main(["compile", *common, "--package", str(out / name)]) == 0
    return out


def _job(compiled) -> dict:
    job = json.loads((compiled / "pipeline.json").read_text())
    json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob())  # strict: unknown fields fail
    json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    return job


def executors_of(spec: dict) -> dict:
    """{task: its executor}."""
    return {name: spec["deploymentSpec"]["executors"][spec["components"][task["componentRef"][
        "name"]]["executorLabel"]] for name, task in spec["root"]["dag"]["tasks"].items()}


def test_the_spec_has_every_component_the_dag_edges_and_the_image(compiled):
    job = _job(compiled)
    spec = job["pipelineSpec"]
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) >= COMPONENTS
    depends = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert depends["StatisticsGen"] == {"ImageExampleGen"}
    assert {"SchemaGen", "StatisticsGen"} <= depends["ExampleValidator"]
    # The gate compares the statistics with the data accepted last, under the schema's
    # drift comparators; the data review reads the Examples and goes before the Trainer.
    assert depends["AnomalyGate"] == {"ExampleValidator", "StatisticsGen", "SchemaGen"}
    assert depends["DataReview"] == {"ImageExampleGen"}
    assert "DataReview" in depends["Trainer"]
    assert {"AnomalyGate", "ImageExampleGen"} <= depends["Transform"]
    assert {"Transform", "ImageExampleGen"} <= depends["Trainer"]
    assert depends["Evaluator"] == {"ImageExampleGen", "Trainer"}  # no resolver node
    assert depends["Pusher"] == {"Evaluator", "Trainer"}
    assert depends["ImageExampleGen"] == {"DataFingerprint"}
    # Every task is a container (no importer or resolver), and open-source KFP runs them all.
    assert all("container" in e for e in spec["deploymentSpec"]["executors"].values())
    assert spec["schemaVersion"] == "2.1.0"
    # The data's fingerprint enters the ExampleGen's parameters (so its cache key), from a
    # task that is itself never cached; the served baseline is read when the Evaluator runs.
    assert tasks["ImageExampleGen"]["inputs"]["parameters"]["data_fingerprint"] == {
        "taskOutputParameter": {"outputParameterKey": "fingerprint",
                                "producerTask": "DataFingerprint"}}
    for uncached in ("DataFingerprint", "Evaluator", "Pusher"):
        assert tasks[uncached]["cachingOptions"] == {"enableCache": False}
    example_gen = executors_of(spec)["ImageExampleGen"]["container"]
    assert example_gen["lifecycle"]["preCacheCheck"]["command"][-1] == (
        "components.kfp.example_gen_driver")
    evaluator_parameters = tasks["Evaluator"]["inputs"]["parameters"]
    assert evaluator_parameters["serving_base_path"]["runtimeValue"]["constant"] == (
        f"{ROOT}/serving/shapes")
    executors = spec["deploymentSpec"]["executors"]
    containers = [e["container"] for e in executors.values() if "container" in e]
    assert len(containers) == len(COMPONENTS)
    assert all(c["image"] == IMAGE for c in containers)
    trainer = executors[spec["components"][tasks["Trainer"]["componentRef"]["name"]]["executorLabel"]]
    assert trainer["container"]["resources"]["accelerator"] == {"type": "nvidia.com/gpu",
                                                                "count": "2"}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    assert "data_root" in spec["root"]["inputDefinitions"]["parameters"]
    assert tasks["ImageExampleGen"]["inputs"]["parameters"]["input_base"] == {
        "componentInputParameter": "data_root"}
    # Two GPUs: the Trainer mirrors over them.
    trainer_config = json.loads(tasks["Trainer"]["inputs"]["parameters"]["custom_config"][
        "runtimeValue"]["constant"])
    assert trainer_config["distribution"] == "mirrored"


def test_the_yaml_carries_the_kubernetes_platform_spec(compiled):
    spec, platform = yaml.safe_load_all((compiled / "pipeline.yaml").read_text())
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    tasks = spec["root"]["dag"]["tasks"]
    assert set(executors) == {f"{task}_executor" for task in tasks}
    config = kubernetes_executor_config_pb2.KubernetesExecutorConfig()
    # kfp-kubernetes 1.0.0 predates tolerations; its proto checks the rest.
    json_format.ParseDict(executors["Trainer_executor"], config, ignore_unknown_fields=True)
    assert dict(config.node_selector.labels) == {
        "cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert executors["Trainer_executor"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    # The decode cache's scratch: an emptyDir over /tmp, where tempfile puts the spill; and
    # every task's staging disk where KFP's launcher downloads its inputs (gs:// -> /gcs),
    # sized from the data: the Examples' readers hold the data, the others small artifacts.
    assert executors["Trainer_executor"]["emptyDirMounts"] == [
        {"volumeName": "staging", "mountPath": "/gcs", "sizeLimit": "1Gi"},
        {"volumeName": "scratch", "mountPath": "/tmp", "sizeLimit": "50Gi"}]
    assert executors["SchemaGen_executor"]["emptyDirMounts"] == [
        {"volumeName": "staging", "mountPath": "/gcs", "sizeLimit": "1Gi"}]
    assert executors["Pusher_executor"]["emptyDirMounts"][0]["sizeLimit"] == "2Gi"  # a model


def test_each_pods_staging_disk_holds_what_its_launcher_downloads():
    from pipeline.runners.staging_disk import disk_per_task

    tasks = ["ImageExampleGen", "StatisticsGen", "SchemaGen", "Trainer", "Evaluator", "Pusher"]
    sizes = disk_per_task(tasks, 100 * 1024**3, {"Trainer": "300Gi"})
    assert sizes == {"ImageExampleGen": "1Gi", "StatisticsGen": "111Gi", "SchemaGen": "1Gi",
                     "Trainer": "300Gi", "Evaluator": "112Gi", "Pusher": "2Gi"}
    assert disk_per_task(tasks, None, {"Trainer": "300Gi"}) == {"Trainer": "300Gi"}


def test_every_class_and_module_path_in_the_spec_imports(compiled):
    spec = _job(compiled)["pipelineSpec"]
    paths = []
    for executor in spec["deploymentSpec"]["executors"].values():
        args = executor.get("container", {}).get("args", [])
        paths += [args[i + 1] for i, a in enumerate(args) if a == "--executor_class_path"]
    for task in spec["root"]["dag"]["tasks"].values():
        for name, value in task.get("inputs", {}).get("parameters", {}).items():
            if name.endswith("_fn"):
                paths.append(value["runtimeValue"]["constant"])
    assert "components.trainer.run_fn.run_fn" in paths
    assert "components.transform.preprocessing.preprocessing_fn" in paths
    for path in paths:
        module, _, attribute = path.rpartition(".")
        assert getattr(importlib.import_module(module), attribute), path


class _FakeKfpApi:
    """A stand-in for the few KFP v2 REST endpoints `submit` calls, recording each request.

    This checks the API contract (what kfp.Client sends), not a cluster.
    """

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[str, str, dict]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                api.requests.append(("GET", self.path, {}))
                if self.path.startswith("/apis/v2beta1/healthz"):
                    self._reply({"multi_user": False})
                elif self.path.startswith("/apis/v2beta1/experiments"):
                    self._reply({"experiments": []})
                else:
                    self._reply({})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                api.requests.append(("POST", self.path, body))
                if self.path.startswith("/apis/v2beta1/experiments"):
                    self._reply({"experiment_id": "exp-1", "display_name": body["display_name"]})
                elif self.path.startswith("/apis/v2beta1/recurringruns"):
                    self._reply({"recurring_run_id": "rr-7", "display_name": body["display_name"]})
                elif self.path.startswith("/apis/v2beta1/runs"):
                    self._reply({"run_id": "run-42", "display_name": body["display_name"]})
                else:
                    self._reply({})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posted(self, prefix: str) -> list[dict]:
        return [body for method, path, body in self.requests
                if method == "POST" and path.startswith(prefix)]


def test_submit_creates_a_run_and_a_recurring_run_with_package_cron_and_params(compiled, capsys):
    api = _FakeKfpApi()
    try:
        run = run_main(capsys, "submit", str(compiled / "pipeline.yaml"), "--host", api.url,
                      "--experiment", "nightly", "--param", "data_root=gs://bucket/images/new")
        assert run.returncode == 0, run.stderr[-2000:]
        assert f"Created run run-42: {api.url}/#/runs/details/run-42" in run.stdout
        body = api.posted("/apis/v2beta1/runs")[0]
        assert body["experiment_id"] == "exp-1"
        assert set(body["pipeline_spec"]["pipeline_spec"]["root"]["dag"]["tasks"]) >= COMPONENTS
        # The Kubernetes platform spec travels with the package.
        assert "Trainer_executor" in json.dumps(body["pipeline_spec"]["platform_spec"])
        assert body["runtime_config"]["parameters"]["data_root"] == "gs://bucket/images/new"
        assert api.posted("/apis/v2beta1/experiments")[0]["display_name"] == "nightly"

        recurring = run_main(capsys, "submit", str(compiled / "pipeline.json"), "--host", api.url,
                            "--schedule", "0 3 * * *")
        assert recurring.returncode == 0, recurring.stderr[-2000:]
        assert "Created recurring run rr-7" in recurring.stdout
        body = api.posted("/apis/v2beta1/recurringruns")[0]
        assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
        assert body["max_concurrency"] == "1" or body["max_concurrency"] == 1
    finally:
        api.server.shutdown()


def test_submit_errors_are_one_clear_line(compiled, tmp_path, capsys):
    missing = run_main(capsys, "submit", str(tmp_path / "nope.yaml"), "--host", "http://127.0.0.1:9")
    assert missing.returncode == 1 and "no such file" in missing.stderr
    bad_cron = run_main(capsys, "submit", str(compiled / "pipeline.yaml"), "--host", "http://127.0.0.1:9",
                       "--schedule", "every night")
    assert bad_cron.returncode == 1 and "use cron with 5 fields" in bad_cron.stderr


def test_the_dockerfile_installs_every_package_the_spec_names():
    """No Docker engine here: the image must get every package and install the one dependency list."""
    import re

    repo = Path(__file__).resolve().parent.parent
    dockerfile = (repo / "Dockerfile").read_text()
    packages = re.search(r'include = \[([^\]]*)\]', (repo / "pyproject.toml").read_text()).group(1)
    for package in re.findall(r'"(\w+)\*"', packages):
        assert f"COPY {package}/ {package}/" in dockerfile, package
    assert "COPY pyproject.toml" in dockerfile and "pip install --no-cache-dir -e ." in dockerfile
    assert "ENV TF_USE_LEGACY_KERAS=1" in dockerfile
    assert re.search(r"^FROM \$\{BASE_IMAGE\}", dockerfile, re.M)
    assert "ARG BASE_IMAGE=tensorflow/tfx:${TFX_VERSION}" in dockerfile
