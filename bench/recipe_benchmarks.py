"""Recipes (issue 16): `--recipe course` vs the default, each module, on real photos; one run.

    python -m bench.recipe_benchmarks --report FILE [--only caltech101_18] [--skip-ablation]
        [--skip-recipes] [--skip-probe] [--ablation-data rps_28px]

1. For every module on ../shared/data/caltech101_18 (train/ -> test/; CNNs at 150 px,
   transfer with the real MobileNetV2 0.35 ImageNet weights at 224 px) and on rps_28px:
   test accuracy, epochs run and Trainer seconds of the course recipe and the default,
   same data, same epoch cap, through the whole pipeline (ExampleGen to Transform cached
   between the two, so the Trainers are compared on identical inputs).
2. The floor a trained head must reach: a logistic regression on the frozen base's pooled
   features, trained on all of train/ and, beside it, on exactly the photos the pipeline's
   head trains on (its training split: train/ less the validation images the hash split
   holds out for early stopping), both scored on test/.
3. The default recipe built one change at a time from the course's, on the augmented CNN
   (--ablation-data: caltech101_18 by default; rps_28px is the quick one).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, SHARED, finish, report_header, report_option
from components.trainer.recipes import DEFAULT, RECIPES
from components.trainer.run_fn import HISTORY_FILE, TIMING_FILE

CALTECH = SHARED / "caltech101_18"
RPS = SHARED / "rps_28px"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_0.35_224_imagenet_from_teachablemachine_no_top.h5"
EPOCHS = "15"  # the cap both recipes get (the course notebooks' 15 epochs)
TRANSFER = ["--model", "transfer", "--base", "mobilenet_v2", "--alpha", "0.35",
            "--weights", str(WEIGHTS), "--image-size", "224"]
DATASETS = {  # name -> (data, CNN image size)
    "caltech101_18": (CALTECH, "150"),
    "rps_28px": (RPS, "28"),
}
MODULES = ("scratch", "augmented", "multiclass", "transfer")
# One change at a time, from the course's augmented recipe to the default.
ABLATION = [
    ("course recipe (RMSprop 1e-4, patience 3)", ["--recipe", "course"]),
    ("+ Adam at the same 1e-4", ["--recipe", "course", "--optimizer", "adam"]),
    ("+ learning rate 1e-3", ["--recipe", "course", "--optimizer", "adam",
                              "--learning-rate", "1e-3"]),
    ("+ patience 6", ["--recipe", "course", "--optimizer", "adam", "--learning-rate", "1e-3",
                      "--patience", "6"]),
    ("+ rate cut x0.2 on a 2-epoch plateau (= default)", ["--recipe", "default"]),
]


def run(output: Path, name: str, *args: str) -> dict:
    """One `visionpipe run`; its summary (or the error) and Trainer facts."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--output", str(output), "--name", name,
         "--epochs", EPOCHS, "--min-accuracy", "0", "--min-class-recall", "0", "--no-baseline", *args],
        cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    path = output / name / "summary.json"
    if not path.exists():
        return {"error": result.stderr.strip().splitlines()[-1:] or ["failed"], "wall": wall}
    summary = json.loads(path.read_text())
    history = Path(summary["model_run"]) / HISTORY_FILE
    timing = Path(summary["model_run"]) / TIMING_FILE
    return {
        "accuracy": summary["metrics"]["test"]["accuracy"],
        "trainer": summary["component_seconds"].get("Trainer", float("nan")),
        "training": (json.loads(timing.read_text())["training_seconds"] if timing.exists()
                     else float("nan")),
        "epochs": len(json.loads(history.read_text())["loss"]) if history.exists() else "-",
        "wall": wall,
        "examples": str(Path(summary["leakage_report"]).parent),  # the Examples artifact
    }


def _cell(result: dict) -> str:
    if "error" in result:
        return f"failed: {result['error'][0][:80]} | - | - | -"
    return (f"{result['accuracy']:.4f} | {result['epochs']} | {result['training']:.0f} | "
            f"{result['trainer']:.0f}")


def recipes_table(work: Path, only: str | None,
                  modules: tuple[str, ...]) -> tuple[list[str], dict[str, dict]]:
    """The table, and each run of the default recipe by its name (data-module)."""
    lines = [f"### `--recipe course` vs the default (test split; at most {EPOCHS} epochs, the "
             f"default transfer's head on cached features at most "
             f"{RECIPES[DEFAULT].head_epochs})", "",
             "Training s: the fitting alone (both phases, features included); Trainer s: the "
             "whole component (decoding, fitting, per-split metrics, report pictures, export).",
             "",
             "| data | module | course: test accuracy | epochs | training s | Trainer s | "
             "default: test accuracy | epochs | training s | Trainer s | training time "
             "default/course | Trainer time default/course |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    defaults = {}
    for data_name, (data, size) in DATASETS.items():
        if only and data_name != only:
            continue
        for module in modules:
            args = ["--data", str(data)] + (
                TRANSFER if module == "transfer" else ["--model", module, "--image-size", size])
            name = f"{data_name}-{module}"
            course = run(work, name, *args, "--recipe", "course")
            default = defaults[name] = run(work, name, *args, "--recipe", "default")
            ratio = (f"{default['training'] / course['training']:.2f}x | "
                     f"{default['trainer'] / course['trainer']:.2f}x"
                     if "error" not in course and "error" not in default else "- | -")
            lines.append(f"| {data_name} | {module} | {_cell(course)} | {_cell(default)} "
                         f"| {ratio} |")
            print(lines[-1], flush=True)
    return lines + [""], defaults


def ablation_table(work: Path, data_name: str) -> list[str]:
    data, size = DATASETS[data_name]
    lines = [f"### The default recipe, one change at a time (augmented CNN, {data_name}, "
             f"{size} px, test split, at most {EPOCHS} epochs)", "",
             "| recipe | test accuracy | epochs | training s | Trainer s |",
             "|---|---|---|---|---|"]
    for label, extra in ABLATION:
        result = run(work, f"ablation-{data_name}", "--data", str(data), "--model", "augmented",
                     "--image-size", size, *extra)
        lines.append(f"| {label} | {_cell(result)} |")
        print(lines[-1], flush=True)
    return lines + [""]


def _pooled_features(paths: list[Path]) -> np.ndarray:
    import tf_keras as keras
    from PIL import Image

    base = keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights=str(WEIGHTS),
                                          input_shape=(224, 224, 3), pooling="avg")
    pictures = []
    for path in paths:
        with Image.open(path) as image:
            pictures.append(np.asarray(image.convert("RGB").resize((224, 224), Image.BILINEAR)))
    pixels = keras.applications.mobilenet_v2.preprocess_input(np.stack(pictures).astype("float32"))
    return base.predict(pixels, batch_size=64, verbose=0)


def _class_files(folder: Path, classes: list[str]) -> list[tuple[Path, int]]:
    return [(path, label) for label, name in enumerate(classes)
            for path in sorted((folder / name).iterdir())]


def _training_split_files(examples: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """The photos of the pipeline's training split, read back from its Examples artifact."""
    import tensorflow as tf

    from components.common import features
    from components.image_example_gen.layout import TRAIN

    files = tf.io.gfile.glob(str(examples / f"Split-{TRAIN}" / "*"))
    chosen = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy()).features.feature
        relative = example[features.RELATIVE_PATH].bytes_list.value[0].decode()
        name = example[features.LABEL_NAME].bytes_list.value[0].decode()
        path = next(p for p in (CALTECH / relative, CALTECH / TRAIN / relative) if p.exists())
        chosen.append((path, classes.index(name)))
    return sorted(chosen)


def _probe_accuracy(train: list[tuple[Path, int]], test_x: np.ndarray, test_y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(max_iter=3000).fit(
        _pooled_features([p for p, _ in train]), [label for _, label in train])
    return float((probe.predict(test_x) == test_y).mean())


def probe_table(pipeline_examples: str | None) -> list[str]:
    """A logistic regression on the frozen base's pooled features: the floor for a head.

    Trained on all of train/, and on the pipeline's own training split when a transfer run
    on caltech101_18 gave one (pipeline_examples, its Examples artifact).
    """
    classes = sorted(p.name for p in (CALTECH / "train").iterdir() if p.is_dir())
    test = _class_files(CALTECH / "test", classes)
    test_x, test_y = _pooled_features([p for p, _ in test]), np.array([y for _, y in test])
    trainings = [("all of train/", _class_files(CALTECH / "train", classes))]
    if pipeline_examples:
        trainings.append(("the pipeline's training split",
                          _training_split_files(Path(pipeline_examples), classes)))
    lines = ["### The floor: logistic regression on the frozen MobileNetV2-0.35 pooled features",
             "", "Seconds: the training photos' features and the fit (test/'s features are "
             "computed once, before).", "",
             "| trained on | photos | probe test accuracy | seconds (features + fit) |",
             "|---|---|---|---|"]
    for label, train in trainings:
        started = time.perf_counter()
        accuracy = _probe_accuracy(train, test_x, test_y)
        lines.append(f"| caltech101_18, {label} | {len(train):,} | {accuracy:.4f} | "
                     f"{time.perf_counter() - started:.0f} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    parser.add_argument("--only", choices=sorted(DATASETS), default=None)
    parser.add_argument("--skip-ablation", action="store_true")
    parser.add_argument("--skip-recipes", action="store_true",
                        help="no course-vs-default table (the ablation's first and last rows "
                             "are those two recipes on the augmented CNN)")
    parser.add_argument("--skip-probe", action="store_true")
    parser.add_argument("--modules", default=",".join(MODULES), help="comma-separated")
    parser.add_argument("--ablation-data", choices=sorted(DATASETS), default="caltech101_18")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-recipe-bench-"))
    lines = report_header("## Recipes (issue 16)", "bench/recipe_benchmarks.py",
                          ", all rows in one run")
    print("\n".join(lines), flush=True)
    recipes, defaults = ([], {}) if args.skip_recipes else recipes_table(
        work, args.only, tuple(args.modules.split(",")))
    if not args.skip_probe:
        lines += probe_table(defaults.get("caltech101_18-transfer", {}).get("examples"))
    lines += recipes
    if not args.skip_ablation:
        lines += ablation_table(work, args.ablation_data)
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
