"""Imbalanced classes: inspect says so, class weights apply, and the gate looks at every class.

The data: 'common' outnumbers 'rare' 20:1 in training; every rare picture is bright, and so
are 40 % of the common ones (the rest dark). Unweighted, the best a model can do is to
answer 'common' always (80 % test accuracy, rare never found); weighted, bright means rare
(rare found, some common lost: a lower accuracy). Three runs of one output folder:
unweighted (refused: it never predicts rare), weighted (pushed), unweighted again with no
per-class lower bound (more accurate than the served model, but rare's recall falls: refused
by the per-class comparison, what is served untouched).
"""

import json

import numpy as np
import pytest
from conftest import run_cli, run_main
from PIL import Image
from test_end_to_end import _tree_digest

from components.common import class_balance

SPLITS = {"train": (240, 96, 12), "val": (40, 16, 8), "test": (40, 16, 10)}  # common, of it bright, rare
QUICK = ["--image-size", "24", "--epochs", "8", "--min-accuracy", "0.5"]
DETERMINISTIC = {"TF_DETERMINISTIC_OPS": "1"}


def _skewed_tree(root):
    rng = np.random.default_rng(0)
    for split, (common, bright_common, rare) in SPLITS.items():
        for label, count, bright in (("common", common, bright_common), ("rare", rare, rare)):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.normal(188 if i < bright else 128, 30, size=(24, 24, 3))
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def test_class_weights_and_the_imbalance_ratio():
    assert class_balance.imbalance_ratio({"a": 200, "b": 10}) == 20.0
    assert class_balance.imbalance_ratio({"a": 5, "b": 0}) == float("inf")
    assert class_balance.balanced_weights([200, 10]) == [0.525, 10.5]  # n / (k * n_class)
    weights, why = class_balance.resolve("auto", [200, 10])
    assert weights == [0.525, 10.5] and why.startswith("balanced (--class-weight auto")
    assert class_balance.resolve("auto", [100, 90]) == (
        None, "none (--class-weight auto: imbalance 1.11:1, at most 3:1)")
    assert class_balance.resolve("balanced", [100, 90])[0] is not None
    assert class_balance.resolve("none", [200, 10])[0] is None


def test_inspect_reports_the_class_counts_and_the_imbalance(tmp_path, capsys):
    root = _skewed_tree(tmp_path / "data")
    facts = json.loads(run_main(capsys, "inspect", "--data", str(root), "--json").stdout)
    assert facts["class_counts"] == {"train": {"common": 240, "rare": 12},
                                     "validation": {"common": 40, "rare": 8},
                                     "test": {"common": 40, "rare": 10}}
    assert facts["imbalance_ratio"] == 20.0
    text = run_main(capsys, "inspect", "--data", str(root)).stdout
    assert "images per class (train): common 240, rare 12" in text
    assert "imbalance: 20:1 in the training split" in text and "warning: above 3:1" in text


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("imbalance")
    data, output = _skewed_tree(work / "data"), work / "runs"

    def run(*extra):
        result = run_cli("run", "--data", str(data), "--name", "skewed", "--output",
                         str(output), *QUICK, *extra, env=DETERMINISTIC)
        summary = json.loads((output / "skewed" / "summary.json").read_text())
        return result, summary

    unweighted = run("--class-weight", "none")
    weighted = run()  # --class-weight auto
    served = _tree_digest(output / "serving" / "skewed")
    regressed = run("--class-weight", "none", "--min-class-recall", "0")
    return {"unweighted": unweighted, "weighted": weighted, "regressed": regressed,
            "served": served, "output": output, "data": data}


@pytest.mark.slow
def test_a_model_that_never_predicts_the_minority_is_refused_naming_it(three_runs):
    result, summary = three_runs["unweighted"]
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-2000:]
    assert "class weights: none (--class-weight none; imbalance 20:1)" in result.stdout
    assert summary["metrics"]["test"]["accuracy"] == 0.8  # it answers 'common' every time
    assert "visionpipe: model not blessed: recall/rare = 0 (lower bound 0.1)" in result.stderr
    # The run's first lines said the data is imbalanced, before anything ran.
    assert "imbalance: 20:1 in train" in result.stdout and "warning: above 3:1" in result.stdout


@pytest.mark.slow
def test_auto_class_weights_apply_and_find_the_minority(three_runs):
    result, summary = three_runs["weighted"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "class weights: balanced (--class-weight auto: imbalance 20:1, above 3:1)" in (
        result.stdout)
    assert summary["training"]["class_weight"]["weights"] == {"common": 0.525, "rare": 10.5}
    unweighted = three_runs["unweighted"][1]["metrics"]["test"]
    test = summary["metrics"]["test"]
    assert test["recall/rare"] > unweighted["recall/rare"] + 0.5
    assert test["balanced_accuracy"] > unweighted["balanced_accuracy"]
    assert summary["imbalance_ratio"] == 20.0
    assert summary["class_counts"]["train"] == {"common": 240, "rare": 12}


@pytest.mark.slow
def test_a_more_accurate_model_that_loses_a_class_is_not_pushed(three_runs):
    result, summary = three_runs["regressed"]
    weighted = three_runs["weighted"][1]["metrics"]["test"]
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-2000:]
    assert summary["metrics"]["test"]["accuracy"] > weighted["accuracy"]  # more accurate...
    failed = summary["failed_thresholds"]
    assert failed == [f"recall/rare = 0 ({weighted['recall/rare']:.4g} below the served "
                      f"model's {weighted['recall/rare']}; at most 0.2)"]  # ...but rare is lost
    assert "served version" in summary["baseline"]
    assert _tree_digest(three_runs["output"] / "serving" / "skewed") == three_runs["served"]


@pytest.mark.slow
def test_every_split_has_the_per_class_metrics(three_runs):
    metrics = three_runs["weighted"][1]["metrics"]
    for split in ("train", "validation", "test"):
        for name in ("accuracy", "balanced_accuracy", "macro_f1", "precision/rare",
                     "recall/rare", "f1/rare", "precision/common", "recall/common",
                     "f1/common"):
            assert name in metrics[split], (split, name)
