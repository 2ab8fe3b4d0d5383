"""Recipes (issue 16): `--recipe course` vs the default, each module, on real photos; one run.

    python -m bench.recipe_benchmarks --report FILE [--only caltech101_18] [--skip-ablation]
        [--skip-probe] [--ablation-data rps_28px]

1. For every module on ../shared/data/caltech101_18 (train/ -> test/; CNNs at 150 px,
   transfer with the real MobileNetV2 0.35 ImageNet weights at 224 px) and on rps_28px:
   test accuracy, epochs run and Trainer seconds of the course recipe and the default,
   same data, same epoch cap, through the whole pipeline (ExampleGen to Transform cached
   between the two, so the Trainers are compared on identical inputs).
2. The floor a trained head must reach: a logistic regression on the frozen base's pooled
   features (all of train/ -> test/).
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
         "--epochs", EPOCHS, "--min-accuracy", "0", "--no-baseline", *args],
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
    }


def _cell(result: dict) -> str:
    if "error" in result:
        return f"failed: {result['error'][0][:80]} | - | - | -"
    return (f"{result['accuracy']:.4f} | {result['epochs']} | {result['training']:.0f} | "
            f"{result['trainer']:.0f}")


def recipes_table(work: Path, only: str | None, modules: tuple[str, ...]) -> list[str]:
    lines = [f"### `--recipe course` vs the default (test split; at most {EPOCHS} epochs)", "",
             "Training s: the fitting alone (both phases, features included); Trainer s: the "
             "whole component (decoding, fitting, per-split metrics, report pictures, export).",
             "",
             "| data | module | course: test accuracy | epochs | training s | Trainer s | "
             "default: test accuracy | epochs | training s | Trainer s | training time "
             "default/course | Trainer time default/course |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for data_name, (data, size) in DATASETS.items():
        if only and data_name != only:
            continue
        for module in modules:
            args = ["--data", str(data)] + (
                TRANSFER if module == "transfer" else ["--model", module, "--image-size", size])
            name = f"{data_name}-{module}"
            course = run(work, name, *args, "--recipe", "course")
            default = run(work, name, *args, "--recipe", "default")
            ratio = (f"{default['training'] / course['training']:.2f}x | "
                     f"{default['trainer'] / course['trainer']:.2f}x"
                     if "error" not in course and "error" not in default else "- | -")
            lines.append(f"| {data_name} | {module} | {_cell(course)} | {_cell(default)} "
                         f"| {ratio} |")
            print(lines[-1], flush=True)
    return lines + [""]


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


def _pooled_features(folder: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    import tf_keras as keras
    from PIL import Image

    base = keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights=str(WEIGHTS),
                                          input_shape=(224, 224, 3), pooling="avg")
    pictures, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            with Image.open(path) as image:
                pictures.append(np.asarray(image.convert("RGB").resize((224, 224),
                                                                         Image.BILINEAR)))
            labels.append(label)
    pixels = keras.applications.mobilenet_v2.preprocess_input(np.stack(pictures).astype("float32"))
    return base.predict(pixels, batch_size=64, verbose=0), np.array(labels)


def probe_table() -> list[str]:
    """A logistic regression on the frozen base's pooled features: the floor for a head."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(p.name for p in (CALTECH / "train").iterdir() if p.is_dir())
    started = time.perf_counter()
    train_x, train_y = _pooled_features(CALTECH / "train", classes)
    test_x, test_y = _pooled_features(CALTECH / "test", classes)
    probe = LogisticRegression(max_iter=3000).fit(train_x, train_y)
    accuracy = float((probe.predict(test_x) == test_y).mean())
    return ["### The floor: logistic regression on the frozen MobileNetV2-0.35 pooled features",
            "", "| data | probe test accuracy | seconds (features + fit) |", "|---|---|---|",
            f"| caltech101_18 (all of train/ -> test/) | {accuracy:.4f} | "
            f"{time.perf_counter() - started:.0f} |", ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    parser.add_argument("--only", choices=sorted(DATASETS), default=None)
    parser.add_argument("--skip-ablation", action="store_true")
    parser.add_argument("--skip-probe", action="store_true")
    parser.add_argument("--modules", default=",".join(MODULES), help="comma-separated")
    parser.add_argument("--ablation-data", choices=sorted(DATASETS), default="caltech101_18")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-recipe-bench-"))
    lines = report_header("## Recipes (issue 16)", "bench/recipe_benchmarks.py",
                          ", all rows in one run")
    if not args.skip_probe:
        lines += probe_table()
    print("\n".join(lines), flush=True)
    lines += recipes_table(work, args.only, tuple(args.modules.split(",")))
    if not args.skip_ablation:
        lines += ablation_table(work, args.ablation_data)
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
