"""Shared test helpers: images made on the fly, and one real pipeline run shared by the e2e tests."""

import components  # noqa: F401, I001 - first: sets TensorFlow's environment (components/__init__.py)

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.image_example_gen.example_encoding import image_example
from components.image_example_gen.fingerprints import hash_picture, upright_rgb
from components.image_example_gen.image_measures import measure
from components.image_example_gen.validation import decode_for_validation

REPO = Path(__file__).resolve().parent.parent


def image_bytes(fmt: str = "JPEG", mode: str = "RGB", size=(40, 30), seed: int = 0) -> bytes:
    """An encoded random image (size is width x height)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").convert(mode).save(buffer, fmt)
    return buffer.getvalue()


def written_example(path: str, class_name: str, label: int, data: bytes) -> tf.train.Example:
    """The Example the ExampleGen writes for data (validated and measured as it does)."""
    info, pixels = decode_for_validation(data)
    return image_example(path, class_name, label, data, info,
                         measure(hash_picture(upright_rgb(pixels)), info.height, info.width))


def write_examples(path: Path, examples) -> None:
    """examples as a gzipped TFRecord file at path, as the ExampleGen writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for example in examples:
            writer.write(example.SerializeToString())


def run_cli(*args: str, timeout: int = 900, cwd: Path = REPO,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs `visionpipe ARGS` as a user would, in a fresh Python process (in cwd), with env
    added to the environment."""
    env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def run_main(capsys, *args: str) -> subprocess.CompletedProcess:
    """Runs `visionpipe ARGS` in this process (error paths: no interpreter start-up), with what
    it printed, as run_cli returns it."""
    from pipeline.cli import main

    try:
        code = main(list(args))
    except SystemExit as stop:  # argparse's errors
        code = stop.code
    printed = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, printed.out, printed.err)


# Fixtures that are whole pipeline runs: a test that uses one is marked slow (make test-fast
# leaves it out), so no test can forget the mark.
WHOLE_RUNS = {"demo_run", "trainer_inputs", "span_run"}


def pytest_collection_modifyitems(items):
    for item in items:
        if WHOLE_RUNS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def span_run(tmp_path_factory):
    """One short run on data in span folders (span-1/, span-2/) with an inferred schema,
    shared by the span test and `schema export`."""
    from pipeline.data_tools.demo import make_demo_data

    root = tmp_path_factory.mktemp("spans")
    make_demo_data(root / "images" / "span-1", images_per_class=10, seed=1)
    make_demo_data(root / "images" / "span-2", images_per_class=14, seed=2)
    result = run_cli("run", "--data", str(root / "images" / "span-{SPAN}"), "--name", "spans",
                     "--output", str(root / "runs"), "--image-size", "32", "--epochs", "1",
                     "--steps-per-epoch", "1", "--min-accuracy", "0", "--min-class-recall", "0")
    return {"root": root, "run_dir": root / "runs" / "spans", "result": result}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One real local run on generated demo data, shared by the tests that need a pushed model."""
    from pipeline.data_tools.demo import SETTINGS, make_demo_data

    root = tmp_path_factory.mktemp("e2e")
    data = make_demo_data(root / "data", images_per_class=300, seed=1)
    output = root / "runs"
    result = run_cli(
        "run", "--data", str(data), "--name", "shapes", "--output", str(output), *SETTINGS)
    return {"root": root, "data": data, "output": output, "result": result}


@pytest.fixture(scope="session")
def trainer_inputs(demo_run):
    """The demo run's Examples and transform graph (64 px, 3 classes), as run_fn and tuner_fn get them."""
    assert demo_run["result"].returncode == 0, demo_run["result"].stderr[-2000:]
    artifacts = demo_run["output"] / "shapes" / "artifacts"
    examples = sorted((artifacts / "ImageExampleGen" / "examples").iterdir())[0]
    transform_graph = sorted((artifacts / "Transform" / "transform_graph").iterdir())[0]
    return {
        "train_files": [str(examples / "Split-train" / "*")],
        "eval_files": [str(examples / "Split-validation" / "*")],
        "transform_output": str(transform_graph),
    }


def fn_args(trainer_inputs: dict, work: Path, custom_config: dict, hyperparameters=None):
    """TFX's FnArgs for calling run_fn / tuner_fn directly on the demo run's artifacts."""
    from tfx.components.trainer.fn_args_utils import FnArgs

    return FnArgs(
        working_dir=str(work / "working"),
        train_files=trainer_inputs["train_files"],
        eval_files=trainer_inputs["eval_files"],
        transform_output=trainer_inputs["transform_output"],
        transform_graph_path=trainer_inputs["transform_output"],
        serving_model_dir=str(work / "serving_model"),
        model_run_dir=str(work / "model_run"),
        custom_config=custom_config,
        hyperparameters=hyperparameters,
    )
