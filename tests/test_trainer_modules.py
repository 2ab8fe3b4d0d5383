"""Every trainer module trains a few steps through the real run_fn and exports a model that serves."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import fn_args
from PIL import Image

from components.common.image_spec import ImageSpec
from components.insights.figures import (
    CONFUSION_JSON,
    CONFUSION_PNG,
    CURVES_FILE,
    INSIGHTS_DIR,
    MISTAKES_FILE,
)
from components.trainer.models import MODELS
from components.trainer.run_fn import TIMING_FILE, run_fn
from pipeline.data_tools.demo import CLASSES, draw_shape, encode

QUICK = {**ImageSpec.square(64).to_custom_config(), "epochs": 1, "steps_per_epoch": 2,
         "batch_size": 8}
MODULE_CONFIGS = {
    "scratch": {},
    "augmented": {},
    "multiclass": {},
    # InceptionV3 needs 75 px; the demo transform graph gives 64, so MobileNetV2 here
    # (InceptionV3 is tested in test_transfer.py).
    # Under MirroredStrategy, as the compiled Kubeflow Trainer runs with GPUs (one CPU
    # device here): both phases build models and optimizers of their own inside its scope.
    "transfer": {"base": "mobilenet_v2", "alpha": 0.35, "weights": "none",
                 "fine_tune_layers": 5, "fine_tune_epochs": 1, "head_epochs": 1,
                 "distribution": "mirrored"},
}


def _mobilenet_weights_file(tmp_path, size: int = 64) -> str:
    """A MobileNetV2 (alpha 0.35) no-top weights file written here, as a user's own file."""
    import tf_keras as keras

    base = keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights=None,
                                          input_shape=(size, size, 3))
    path = str(tmp_path / f"mobilenet_v2_0.35_{size}_no_top.h5")
    base.save_weights(path)
    return path


@pytest.mark.parametrize("name", sorted(MODELS))
def test_module_trains_exports_and_serves_raw_bytes(name, trainer_inputs, tmp_path):
    config = {**QUICK, "model": name, **MODULE_CONFIGS[name]}
    if name == "transfer":  # the Trainer loads a weights file, as --weights PATH asks
        config["weights"] = _mobilenet_weights_file(tmp_path)
    args = fn_args(trainer_inputs, tmp_path, config)
    run_fn(args)

    history = json.loads((tmp_path / "model_run" / "history.json").read_text())
    expected_epochs = 2 if name == "transfer" else 1  # transfer adds one fine-tuning epoch
    assert len(history["loss"]) == expected_epochs and "val_accuracy" in history
    timing = json.loads((tmp_path / "model_run" / TIMING_FILE).read_text())
    assert timing["training_seconds"] > 0
    model = tf.saved_model.load(args.serving_model_dir)
    rng = np.random.default_rng(3)
    images = [encode(draw_shape(shape, rng, (64, 64)), "JPEG") for shape in CLASSES]
    out = model.signatures["serving_default"](image_bytes=tf.constant(images))
    assert out["probabilities"].shape == (3, 3)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert set(out["class_name"].numpy().astype(str)) <= set(CLASSES)
    # No augmentation op reaches the exported graph: TF Serving has no Python (the
    # training input's OpenCV warp) and no ImageProjectiveTransformV3 (Keras's random layers).
    graph = model.signatures["serving_default"].graph.as_graph_def()
    ops = {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def}
    assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc", "ImageProjectiveTransformV3"}


def test_the_trainer_draws_the_training_pictures(trainer_inputs, tmp_path):
    run_fn(fn_args(trainer_inputs, tmp_path, {**QUICK, "model": "scratch"}))
    insights = tmp_path / "model_run" / INSIGHTS_DIR
    for name in [CURVES_FILE] + [f"feature_maps_{c}.png" for c in CLASSES]:
        with Image.open(insights / name) as picture:
            assert picture.format == "PNG"
            assert picture.width >= 200 and picture.height >= 200, (name, picture.size)
    # The verdict's pictures are the Evaluator's, on the test split: the Trainer never sees it.
    assert not (insights / CONFUSION_PNG).exists() and not (insights / MISTAKES_FILE).exists()


def test_the_verdict_pictures_are_the_test_splits(demo_run):
    """The report's confusion matrix counts every test image once, and its per-class table
    holds precision, recall and F1."""
    summary = json.loads((demo_run["output"] / "shapes" / "summary.json").read_text())
    insights = Path(summary["evaluation"]) / INSIGHTS_DIR
    for name in (CONFUSION_PNG, MISTAKES_FILE):
        with Image.open(insights / name) as picture:
            assert picture.format == "PNG" and picture.width >= 200
    confusion = json.loads((insights / CONFUSION_JSON).read_text())
    matrix = np.array(confusion["matrix"])
    assert confusion["split"] == "test" and matrix.shape == (3, 3)
    assert matrix.sum() == summary["examples_per_split"]["test"]  # every test image once
    # Rows of fractions rounded to 4 places: a row sums to 1 within their rounding.
    assert np.allclose(np.array(confusion["row_normalised"]).sum(axis=1), 1.0, atol=1e-3)
    assert set(confusion["per_class"]) == set(CLASSES)
    assert {"precision", "recall", "f1", "support"} <= set(confusion["per_class"]["circle"])
    page = (demo_run["output"] / "shapes" / "report.html").read_text()
    assert "Confusion matrix (test split" in page and "<th>F1</th>" in page
