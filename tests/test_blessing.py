"""Three roles: validation chooses the model, the test split decides the blessing."""

import json

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image
from test_duplicates import distinct_picture, encode, seed_of


def _shade(picture, light: bool):
    """The picture squeezed into the light (170-255) or dark (0-85) range: a class a CNN
    learns in an epoch or two, while every picture stays distinct."""
    pixels = np.asarray(picture, np.float32) / 255.0 * 85
    return Image.fromarray((pixels + (170 if light else 0)).astype(np.uint8))


@pytest.mark.slow
def test_the_blessing_is_measured_on_test_not_on_the_split_that_chose_the_model(tmp_path):
    root = tmp_path / "data"
    for split, count in (("train", 60), ("val", 12), ("test", 12)):
        for label in ("dark", "light"):
            # The test split's labels are swapped: a model that learned the task scores ~0
            # there, and ~1 on validation. Only a blessing measured on test refuses it.
            light = (label == "light") != (split == "test")
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                (folder / f"{i}.jpg").write_bytes(
                    encode(_shade(distinct_picture(seed_of(split, label, i), (48, 48)), light)))
    # A relative --output, run from tmp_path: summary.json's paths must still be absolute.
    # Five epochs: the default recipe warms up over two, and at the scratch CNN's rate three
    # left validation at chance (0.5); at five it is 1.0.
    result = run_cli("run", "--data", str(root), "--name", "roles", "--output", "runs",
                     "--image-size", "32", "--epochs", "5", "--min-accuracy", "0.6",
                     cwd=tmp_path)
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "roles" / "summary.json").read_text())
    assert summary["blessed_on"] == "test" and summary["blessed"] is False
    metrics = summary["metrics"]
    assert metrics["validation"]["accuracy"] >= 0.9  # a validation verdict would have blessed
    assert metrics["test"]["accuracy"] < 0.6 and metrics["test"]["example_count"] == 24
    assert metrics["train"]["example_count"] == 120
    assert any(f.startswith("accuracy") for f in summary["failed_thresholds"])
    assert summary["layout"] == "train/ + val/ + test/"
    for key in ("run_dir", "log_file", "report", "quarantine_report", "leakage_report",
                "model", "model_run", "data"):
        assert summary[key].startswith(str(tmp_path)), (key, summary[key])
    page = (tmp_path / "runs" / "roles" / "report.html").read_text()
    assert "test (blessing)" in page and "held out from training and model selection" in page
