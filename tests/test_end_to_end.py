"""The whole pipeline on real Beam, real TFRecords and a real SavedModel, run as a user runs it."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from conftest import run_cli

from pipeline.data_tools.demo import CLASSES, draw_shape, encode

CLASSIFY = """
import base64, json, sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
images = json.load(sys.stdin)
out = model.signatures["serving_default"](
    image_bytes=tf.constant([base64.b64decode(b) for b in images]))
assert "tfx" not in sys.modules and "tensorflow_transform" not in sys.modules
print(json.dumps({
    "class_name": [n.decode() for n in out["class_name"].numpy()],
    "probabilities": out["probabilities"].numpy().tolist(),
    "signatures": sorted(model.signatures),
}))
"""


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _classify(model_dir: Path, encoded: list[bytes]) -> dict:
    import base64

    result = subprocess.run(
        [sys.executable, "-c", CLASSIFY, str(model_dir)],
        input=json.dumps([base64.b64encode(b).decode() for b in encoded]),
        capture_output=True, text=True, timeout=300, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_run_pushes_a_blessed_model_that_classifies_new_jpeg_and_png(demo_run):
    result = demo_run["result"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "✓ Trainer" in result.stdout and "epoch 1/" in result.stdout
    assert "pushed to" in result.stdout

    versions = sorted((demo_run["output"] / "serving" / "shapes").iterdir())
    assert len(versions) == 1 and versions[0].name.isdigit()
    summary = json.loads((demo_run["output"] / "shapes" / "summary.json").read_text())
    assert summary["blessed"] is True and summary["pushed_to"] == str(versions[0])
    assert summary["quarantined"] == 3
    assert summary["class_names"] == list(CLASSES)
    assert sum(summary["examples_per_split"].values()) == 3 * 300

    # Pictures the model never saw, from another seed, half JPEG and half PNG.
    import numpy as np

    rng = np.random.default_rng(12345)
    encoded, truth = [], []
    for i in range(60):
        shape = CLASSES[i % 3]
        encoded.append(encode(draw_shape(shape, rng, (72, 72)), "JPEG" if i % 2 else "PNG"))
        truth.append(shape)
    answer = _classify(versions[0], encoded)
    assert answer["signatures"] == ["serving_default", "serving_examples"]
    correct = [p == t for p, t in zip(answer["class_name"], truth, strict=True)]
    jpeg_accuracy = np.mean(correct[1::2])
    png_accuracy = np.mean(correct[0::2])
    assert jpeg_accuracy >= 0.6 and png_accuracy >= 0.6, (jpeg_accuracy, png_accuracy)  # chance: 1/3
    assert np.allclose(np.sum(answer["probabilities"], axis=1), 1.0, atol=1e-4)


def test_unblessed_rerun_pushes_nothing_and_keeps_the_served_version(demo_run):
    assert demo_run["result"].returncode == 0
    serving = demo_run["output"] / "serving" / "shapes"
    before = _tree_digest(serving)
    # One training step: far worse than the blessed model, so the Evaluator must refuse it.
    result = run_cli(
        "run", "--data", str(demo_run["data"]), "--name", "shapes",
        "--output", str(demo_run["output"]), "--image-size", "64", "--epochs", "1",
        "--steps-per-epoch", "1", "--schema", str(Path(__file__).parent.parent / "schemas" /
                                                   "demo.pbtxt"),
    )
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    assert "not blessed" in result.stderr
    assert _tree_digest(serving) == before and len(list(serving.iterdir())) == 1
    summary = json.loads((demo_run["output"] / "shapes" / "summary.json").read_text())
    assert summary["blessed"] is False and summary["pushed_to"] is None
    # Upstream of the Trainer nothing changed, so it came from the cache.
    assert {"ImageExampleGen", "StatisticsGen", "Transform"} <= set(summary["cached_components"])
