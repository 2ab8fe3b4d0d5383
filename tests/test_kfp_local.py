"""The compiled Kubeflow spec executed here, every task from its container command, as KFP runs it.

pipeline/kfp_local.py follows KFP v2's launcher contract (executor input in, executor
output out, artifacts handed on by URI, the preCacheCheck hook first, KFP's cache keys);
these tests run the spec the `compile` command writes, end to end, three times: a model
is pushed, a worse one is refused by the gate against the served model, and one at
least as good is pushed.
"""

import json
import shutil
import sys

import numpy as np
import pytest
from conftest import run_cli
from test_end_to_end import _classify, _tree_digest

from pipeline.demo_data import CLASSES, draw_shape, encode, make_demo_data
from pipeline.kfp_local import (
    container_of,
    execute,
    executor_input,
    load_pipeline_spec,
    pre_cache_check,
    pushed_destination,
)

# 142 training images of 32 px: 20 short epochs (about 0.2 s each) at the course recipe's
# constant rate learn them well past the 0.5 bar; the default recipe's plateau cut reacts to
# the noise of a 16-image validation split (the recipes are tested in test_recipes.py; this
# file tests the orchestration).
QUICK = ["--image-size", "32", "--epochs", "20", "--patience", "20", "--min-accuracy", "0.5",
         "--recipe", "course"]
# Same data and seed, deterministic kernels: a re-trained model is as good as the first.
DETERMINISTIC = {"TF_DETERMINISTIC_OPS": "1"}


def _compile(data, work, package, *extra):
    result = run_cli("compile", "--data", str(data), "--name", "shapes", "--image", "local",
                     "--pipeline-root", str(work / "root"), "--output", str(work),
                     "--package", str(package), *QUICK, *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    return package


@pytest.fixture(scope="module")
def kfp(tmp_path_factory):
    work = tmp_path_factory.mktemp("kfp-local")
    data = make_demo_data(work / "data", images_per_class=60, seed=5)
    good = _compile(data, work, work / "pipeline.yaml")
    runs = execute(str(good), str(work / "root"), on_task=lambda line: None,
                   extra_env=DETERMINISTIC)
    return {"work": work, "data": data, "good": good, "first": runs}


def test_every_task_runs_from_its_container_command_and_artifacts_flow_by_uri(kfp):
    spec = load_pipeline_spec(str(kfp["good"]))
    runs = kfp["first"]
    assert set(runs) == set(spec["root"]["dag"]["tasks"])
    assert not any(run.cached for run in runs.values())
    for name, run in runs.items():
        task = spec["root"]["dag"]["tasks"][name]
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            given = run.executor_input["inputs"]["artifacts"][key]["artifacts"][0]
            produced = runs[producer["producerTask"]].executor_output["artifacts"][
                producer["outputArtifactKey"]]["artifacts"][0]
            assert given["uri"] == produced["uri"] and given["uri"].startswith(
                str(kfp["work"] / "root")), (name, key)
    # The ExampleGen's preCacheCheck ran first and gave the executor the data's fingerprint.
    assert runs["ImageExampleGen"].pre_cache_check["parameterValues"][
        "input_fingerprint"].startswith("files:")
    examples = runs["ImageExampleGen"].executor_output["artifacts"]["examples"]["artifacts"][0]
    assert json.loads(examples["metadata"]["split_names"]) == ["train", "validation", "test"]


def test_the_pushed_model_classifies_new_jpegs_in_a_fresh_process(kfp):
    pushed = pushed_destination(kfp["first"])
    assert pushed and pushed.startswith(str(kfp["work"] / "serving" / "shapes"))
    rng = np.random.default_rng(99)
    truth = [CLASSES[i % 3] for i in range(30)]
    images = [encode(draw_shape(shape, rng, (64, 64)), "JPEG") for shape in truth]
    answer = _classify(pushed, images)
    accuracy = np.mean([p == t for p, t in zip(answer["class_name"], truth, strict=True)])
    assert accuracy >= 0.5, accuracy  # chance: 1/3


def test_the_gate_refuses_a_worse_model_and_pushes_one_as_good(kfp):
    work = kfp["work"]
    serving = work / "serving" / "shapes"
    before = _tree_digest(serving)
    worse = _compile(kfp["data"], work, work / "worse.yaml", "--steps-per-epoch", "1",
                     "--epochs", "1", "--min-accuracy", "0")
    runs = execute(str(worse), str(work / "root"), on_task=lambda line: None,
                   extra_env=DETERMINISTIC)
    # The unchanged data: the ExampleGen and everything up to Transform from the cache.
    assert {n for n, run in runs.items() if run.cached} == {
        "ImageExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomalyGate",
        "Transform"}
    blessing = runs["Evaluator"].executor_output["artifacts"]["blessing"]["artifacts"][0]
    assert blessing["metadata"]["baseline"].startswith("served version")
    assert not blessing["metadata"]["blessed"]
    assert pushed_destination(runs) is None
    assert _tree_digest(serving) == before and len(list(serving.iterdir())) == 1

    again = execute(str(kfp["good"]), str(work / "root"), on_task=lambda line: None,
                    extra_env=DETERMINISTIC)
    assert again["Trainer"].cached  # the first model: not worse than itself
    assert not again["Evaluator"].cached and not again["Pusher"].cached
    assert pushed_destination(again) and len(list(serving.iterdir())) == 2


def test_the_compiled_fingerprint_sees_an_image_added_to_a_class_folder(kfp, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(kfp["data"], data)
    package = kfp["good"]
    spec = load_pipeline_spec(str(package))

    def fingerprints() -> tuple[str, str]:
        """(the DataFingerprint task's output, the ExampleGen preCacheCheck's), for data."""
        runs = execute(str(package), str(tmp_path / "root"), {"data_root": str(data)},
                       on_task=lambda line: None, tasks={"DataFingerprint"})
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
