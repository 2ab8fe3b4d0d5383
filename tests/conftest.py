"""Shared test helpers: images made on the fly, and one real pipeline run shared by the e2e tests."""

import os

# Before any TensorFlow import (the Makefile exports it too): tf.keras must be Keras 2.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import io  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def image_bytes(fmt: str = "JPEG", mode: str = "RGB", size=(40, 30), seed: int = 0) -> bytes:
    """An encoded random image (size is width x height)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").convert(mode).save(buffer, fmt)
    return buffer.getvalue()


def run_cli(*args: str, timeout: int = 900, cwd: Path = REPO,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs `visionpipe ARGS` as a user would, in a fresh Python process (in cwd), with env
    added to the environment."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One real local run on generated demo data, shared by the tests that need a pushed model."""
    from pipeline.demo_data import make_demo_data

    root = tmp_path_factory.mktemp("e2e")
    data = make_demo_data(root / "data", images_per_class=300, seed=1)
    output = root / "runs"
    result = run_cli(
        "run", "--data", str(data), "--name", "shapes", "--output", str(output),
        "--image-size", "64", "--epochs", "20", "--patience", "4",
        "--schema", str(REPO / "schemas" / "demo.pbtxt"),
    )
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
