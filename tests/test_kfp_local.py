"""The compiled Kubeflow spec executed here, every task from its container command, as KFP runs it.

pipeline/runners/kfp_local/ follows open-source KFP's driver and launcher (`oss`: an S3
pipeline root on a real S3 API server, each input artifact downloaded into the task's pod
folder before it runs, no preCacheCheck hook) and Vertex's contract (`vertex`: the hook,
typed inputs, a local root). The oss tests share one S3 server and one first execution.
This process reads the bucket through boto3 only: TensorFlow's s3:// filesystem
(tensorflow-io) would abort the test session's exit (object_store.exit_process).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli, run_main
from test_end_to_end import CLASSIFY, _classify

from pipeline.data_tools.demo import CLASSES, draw_shape, encode, make_demo_data
from pipeline.runners.kfp_local import launcher
from pipeline.runners.kfp_local.harness import (
    container_of,
    execute,
    executor_input,
    load_pipeline_spec,
    pre_cache_check,
    pushed_destination,
)
from pipeline.runners.kfp_local.s3_server import LocalS3, split_uri

pytestmark = pytest.mark.slow  # Kubeflow executions

# 142 training images of 32 px: 20 short epochs at the course recipe's constant rate learn
# them well past the 0.5 bar (the recipes are tested in test_recipes.py; this file tests the
# orchestration).
QUICK = ["--image-size", "32", "--epochs", "20", "--patience", "20", "--min-accuracy", "0.5",
         "--recipe", "course"]
WORSE = ["--steps-per-epoch", "1", "--epochs", "1", "--min-accuracy", "0",
         "--min-class-recall", "0"]
# Same data and seed, deterministic kernels: a re-trained model is as good as the first.
DETERMINISTIC = {"TF_DETERMINISTIC_OPS": "1"}
BUCKET = "s3://visionpipe-test"
ROOT, DATA = f"{BUCKET}/root", f"{BUCKET}/data"


def _compile(data: str, root: str, output: str, package, *extra):
    result = run_cli("compile", "--data", data, "--name", "shapes", "--image", "local",
                     "--pipeline-root", root, "--output", output, "--package", str(package),
                     *QUICK, *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    return str(package)


def _objects(store: LocalS3, uri: str) -> dict[str, str]:
    """{key: etag} of every object below uri."""
    bucket, key = split_uri(uri)
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture(scope="module")
def store():
    with LocalS3() as s3:
        s3.create_bucket(BUCKET)
        yield s3


FIRST_RUN = "run-first"


def _examples_key(run_id: str) -> tuple[str, str]:
    """(bucket, key) of the ExampleGen's output artifact in run run_id."""
    return split_uri(f"{ROOT}/shapes/{run_id}/ImageExampleGen/examples")


@pytest.fixture(scope="module")
def oss(store, tmp_path_factory):
    """The demo data in the bucket, the pipeline compiled against it (listed through the S3
    API) and executed as open-source KFP runs it, with zero-byte directory markers planted
    below the ExampleGen's output before it runs (what TensorFlow's GCS filesystem leaves)."""
    work = tmp_path_factory.mktemp("kfp-oss")
    store.copy_in(str(make_demo_data(work / "data", images_per_class=60, seed=5)), DATA)
    good = _compile(DATA, ROOT, BUCKET, work / "pipeline.yaml")
    bucket, key = _examples_key(FIRST_RUN)
    for marker in (f"{key}/", f"{key}/Split-train/", f"{key}/Split-test/"):
        store.client.put_object(Bucket=bucket, Key=marker, Body=b"")
    runs = execute(good, ROOT, on_task=lambda line: None, extra_env=DETERMINISTIC,
                   run_id=FIRST_RUN)
    return {"work": work, "good": good, "first": runs}


def test_oss_executes_every_task_as_its_launcher_does_and_pushes_into_the_bucket(oss, store):
    spec = load_pipeline_spec(oss["good"])
    runs = oss["first"]
    assert set(runs) == set(spec["root"]["dag"]["tasks"]) and not any(
        run.cached for run in runs.values())
    for name, run in runs.items():
        assert run.pre_cache_check is None, name  # open-source KFP runs no lifecycle hook
        assert run.executor_input["outputs"]["outputFile"].endswith(
            "/tmp/kfp_outputs/output_metadata.json")  # the launcher's fixed path, in the pod
        for key, artifacts in run.executor_input["inputs"]["artifacts"].items():
            given = artifacts["artifacts"][0]
            assert given["type"] == {"instanceSchema": ""}, (name, key)  # untyped, as KFP's driver
            assert given["uri"].startswith(ROOT)
    examples = runs["ImageExampleGen"].executor_output["artifacts"]["examples"]["artifacts"][0]
    written = sum(_sizes(store, examples["uri"]).values())
    # StatisticsGen's pod downloaded the whole Examples artifact before it ran.
    assert runs["StatisticsGen"].staged.downloaded_bytes >= written > 0
    assert runs["SchemaGen"].staged.downloaded_bytes < written
    pushed = pushed_destination(runs)
    assert pushed and pushed.startswith(f"{BUCKET}/serving/shapes/")


def _sizes(store: LocalS3, uri: str) -> dict[str, int]:
    """{key: bytes} of the objects below uri."""
    bucket, key = split_uri(uri)
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


def test_the_pushed_model_read_back_through_the_store_classifies_jpegs_in_a_fresh_process(oss):
    pushed = pushed_destination(oss["first"])
    rng = np.random.default_rng(99)
    truth = [CLASSES[i % 3] for i in range(30)]
    images = [encode(draw_shape(shape, rng, (64, 64)), "JPEG") for shape in truth]
    import base64

    # A fresh process reading the model from the S3 API (tensorflow-io's filesystem), with
    # neither TFX nor TFT imported; it ends without the plugin's shutdown (exit_process).
    script = ("import tensorflow_io\n" + CLASSIFY +
              "from components.kfp.object_store import exit_process\nexit_process(0)\n")
    result = subprocess.run([sys.executable, "-c", script, pushed], capture_output=True,
                            text=True, timeout=300, env=os.environ,
                            input=json.dumps([base64.b64encode(b).decode() for b in images]))
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    accuracy = np.mean([p == t for p, t in zip(answer["class_name"], truth, strict=True)])
    assert accuracy >= 0.5, accuracy  # chance: 1/3


def test_the_gate_refuses_a_worse_model_against_the_one_in_the_bucket(oss, store):
    served = _objects(store, f"{BUCKET}/serving/shapes")
    worse = _compile(DATA, ROOT, BUCKET, oss["work"] / "worse.yaml", *WORSE)
    runs = execute(worse, ROOT, on_task=lambda line: None, extra_env=DETERMINISTIC)
    # The unchanged data: the ExampleGen and everything up to Transform from the cache.
    assert {n for n, run in runs.items() if run.cached} == {
        "ImageExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomalyGate",
        "Transform"}
    blessing = runs["Evaluator"].executor_output["artifacts"]["blessing"]["artifacts"][0]
    assert blessing["metadata"]["baseline"].startswith("served version")
    assert not blessing["metadata"]["blessed"]
    assert pushed_destination(runs) is None
    assert _objects(store, f"{BUCKET}/serving/shapes") == served  # every object as it was


def test_a_directory_marker_below_an_upstream_artifact_never_breaks_its_consumer(oss, store):
    """TensorFlow's GCS filesystem leaves a zero-byte 'folder/' object for every folder it
    makes; open-source KFP's launcher downloads one as a file and then fails the consumer.
    Planted below the ExampleGen's output before it ran (the oss fixture), the markers are
    gone when it ends and the next tasks staged and ran."""
    runs = oss["first"]
    bucket, key = _examples_key(FIRST_RUN)
    examples = f"s3://{bucket}/{key}"
    assert runs["ImageExampleGen"].executor_output["artifacts"]["examples"]["artifacts"][0][
        "uri"] == examples
    assert not [k for k in _objects(store, examples) if k.endswith("/")]
    assert runs["StatisticsGen"].staged.downloaded_objects > 0
    # The launcher's own download fails on a marker with children, as KFP's does: what the
    # markers' removal spares every consumer.
    store.client.put_object(Bucket=bucket, Key=f"{key}/Split-train/", Body=b"")
    try:
        with pytest.raises(launcher.StagingError, match="not a directory"):
            launcher.download(examples, str(oss["work"] / "pod"), launcher.Staged())
    finally:  # the artifact stays usable by the tests that reuse it from the cache
        store.client.delete_object(Bucket=bucket, Key=f"{key}/Split-train/")


def test_span_data_resolves_the_newest_span_without_the_hook(store, tmp_path):
    spans = f"{BUCKET}/spans"
    for span, seed in ((1, 1), (2, 2)):
        store.copy_in(str(make_demo_data(tmp_path / f"span-{span}", images_per_class=8,
                                         seed=seed)), f"{spans}/span-{span}")
    package = _compile(f"{spans}/span-{{SPAN}}", ROOT, BUCKET, tmp_path / "spans.yaml")
    tasks = {"DataFingerprint", "ImageExampleGen"}

    def ingested(runs) -> set[str]:
        uri = runs["ImageExampleGen"].executor_output["artifacts"]["examples"]["artifacts"][0]
        local = tmp_path / uri["uri"].rsplit("/", 3)[-3]
        store.copy_out(uri["uri"], str(local))
        files = [str(path) for path in local.glob("Split-*/*")]
        return {tf.train.Example.FromString(r.numpy()).features.feature["relative_path"]
                .bytes_list.value[0].decode().split("/")[0]
                for r in tf.data.TFRecordDataset(files, compression_type="GZIP")}

    first = execute(package, ROOT, on_task=lambda line: None, tasks=tasks)
    assert ingested(first) == {"span-2"}  # the newest, with no preCacheCheck to resolve it
    store.copy_in(str(make_demo_data(tmp_path / "span-3", images_per_class=8, seed=3)),
                  f"{spans}/span-3")
    third = execute(package, ROOT, on_task=lambda line: None, tasks=tasks)
    assert not third["ImageExampleGen"].cached and ingested(third) == {"span-3"}


def test_a_local_root_is_refused_on_oss_with_the_launchers_reason(tmp_path, capsys):
    package = tmp_path / "p.yaml"
    package.write_text(json.dumps({"pipelineInfo": {"name": "p"}, "root": {"dag": {"tasks": {}}},
                                   "components": {}, "deploymentSpec": {"executors": {}}}))
    result = run_main(capsys, "kfp-local", str(package), "--pipeline-root", str(tmp_path / "root"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unrecognized pipeline root format" in lines[0], result.stderr
    assert "--platform vertex" in lines[0]


@pytest.fixture(scope="module")
def vertex(tmp_path_factory):
    work = tmp_path_factory.mktemp("kfp-vertex")
    data = make_demo_data(work / "data", images_per_class=60, seed=5)
    package = _compile(str(data), str(work / "root"), str(work), work / "pipeline.yaml")
    runs = execute(package, str(work / "root"), on_task=lambda line: None,
                   extra_env=DETERMINISTIC, platform="vertex")
    return {"work": work, "data": data, "package": package, "runs": runs}


def test_vertex_runs_the_hook_first_on_a_local_root_and_pushes_a_model_that_classifies(vertex):
    spec = load_pipeline_spec(vertex["package"])
    runs = vertex["runs"]
    assert set(runs) == set(spec["root"]["dag"]["tasks"])
    for name, run in runs.items():
        for key, source in spec["root"]["dag"]["tasks"][name].get("inputs", {}).get(
                "artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            given = run.executor_input["inputs"]["artifacts"][key]["artifacts"][0]
            produced = runs[producer["producerTask"]].executor_output["artifacts"][
                producer["outputArtifactKey"]]["artifacts"][0]
            assert given["uri"] == produced["uri"], (name, key)
            # Typed: TFX's compiler names the type (tfx.<Type>) or writes its instance schema.
            kind = given["type"]
            assert (kind.get("schemaTitle", "").startswith("tfx.")
                    or "title: tfx." in kind.get("instanceSchema", "")), (name, key)
    # The ExampleGen's preCacheCheck ran first and gave the executor the data's fingerprint.
    assert runs["ImageExampleGen"].pre_cache_check["parameterValues"][
        "input_fingerprint"].startswith("files:")
    pushed = pushed_destination(runs)
    assert pushed and pushed.startswith(str(vertex["work"] / "serving" / "shapes"))
    rng = np.random.default_rng(99)
    truth = [CLASSES[i % 3] for i in range(30)]
    answer = _classify(pushed, [encode(draw_shape(s, rng, (64, 64)), "JPEG") for s in truth])
    assert np.mean([p == t for p, t in zip(answer["class_name"], truth, strict=True)]) >= 0.5


def test_the_compiled_fingerprint_sees_an_image_added_to_a_class_folder(vertex, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(vertex["data"], data)
    package = vertex["package"]
    spec = load_pipeline_spec(package)

    def fingerprints() -> tuple[str, str]:
        """(the DataFingerprint task's output, the ExampleGen preCacheCheck's), for data."""
        runs = execute(package, str(tmp_path / "root"), {"data_root": str(data)},
                       on_task=lambda line: None, tasks={"DataFingerprint"}, platform="vertex")
        the_input = executor_input(spec, "ImageExampleGen", {"data_root": str(data)}, runs,
                                   str(tmp_path / "root" / "probe"))
        checked = pre_cache_check(spec, "ImageExampleGen", the_input, sys.executable,
                                  str(tmp_path / "hook.log"))
        return (runs["DataFingerprint"].executor_output["parameterValues"]["fingerprint"],
                checked["parameterValues"]["input_fingerprint"])

    first, unchanged = fingerprints(), fingerprints()
    assert first == unchanged
    (data / "circle" / "new.jpg").write_bytes(
        encode(draw_shape("circle", np.random.default_rng(7), (64, 64)), "JPEG"))
    added = fingerprints()
    assert added[0] != first[0] and added[1] != first[1]
    assert container_of(spec, "ImageExampleGen")["lifecycle"]["preCacheCheck"]
