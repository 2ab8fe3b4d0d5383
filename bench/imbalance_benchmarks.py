"""Imbalance (issue 28): `--class-weight none` vs `auto` on real photos; one run.

    python -m bench.imbalance_benchmarks --report FILE [--data caltech101,caltech101_18]

For each data set (Caltech's own train/ -> test/, transfer learning with the real
MobileNetV2 0.35 ImageNet weights at 224 px, the default recipe), the two weightings side
by side on the same Examples (ExampleGen to Transform cached between them): test accuracy,
balanced accuracy, macro F1, the recall of the five smallest classes (by training images),
the lowest recall of any class (what `--min-class-recall` reads) and the Trainer's seconds.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, SHARED, finish, report_header, report_option
from components.common import features

WEIGHTS = SHARED / "weights" / "mobilenet_v2_0.35_224_imagenet_from_teachablemachine_no_top.h5"
TRANSFER = ["--model", "transfer", "--base", "mobilenet_v2", "--alpha", "0.35",
            "--weights", str(WEIGHTS), "--image-size", "224"]
DATASETS = {"caltech101": SHARED / "caltech101", "caltech101_18": SHARED / "caltech101_18"}
SMALLEST = 5


def run(output: Path, data: Path, weighting: str) -> dict:
    """One `visionpipe run`; its summary (gates off, so every run reports its figures)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--data", str(data), "--output",
         str(output), "--name", data.name, "--class-weight", weighting, "--min-accuracy", "0",
         "--min-class-recall", "0", "--no-baseline", *TRANSFER],
        cwd=REPO, capture_output=True, text=True)
    path = output / data.name / "summary.json"
    if not path.exists():
        raise RuntimeError(result.stderr[-2000:])
    return {**json.loads(path.read_text()), "wall": time.perf_counter() - started}


def table(name: str, data: Path, work: Path) -> list[str]:
    runs = {weighting: run(work / name, data, weighting) for weighting in ("none", "auto")}
    counts = runs["none"]["class_counts"]["train"]
    smallest = sorted(counts, key=lambda c: (counts[c], c))[:SMALLEST]
    lines = [f"### {name}: {len(counts)} classes, imbalance "
             f"{runs['none']['imbalance_ratio']:g}:1 in training", "",
             f"| --class-weight | applied | test accuracy | balanced accuracy | macro F1 | "
             f"recall of the {SMALLEST} smallest classes ({', '.join(f'{c} {counts[c]}' for c in smallest)}) "
             "| lowest class recall | Trainer s |",
             "|---|---|---|---|---|---|---|---|"]
    for weighting, summary in runs.items():
        test = summary["metrics"]["test"]
        recalls = {c: test.get(features.recall_metric_name(c)) for c in counts}
        measured = [v for v in recalls.values() if v is not None]
        lowest = min(recalls, key=lambda c: recalls[c] if recalls[c] is not None else 2)
        lines.append(
            f"| {weighting} | {summary['training']['class_weight']['applied']} | "
            f"{test['accuracy']:.4f} | {test['balanced_accuracy']:.4f} | "
            f"{test['macro_f1']:.4f} | {' / '.join(f'{recalls[c]:.2f}' for c in smallest)} | "
            f"{min(measured):.2f} ({lowest}) | {summary['component_seconds'].get('Trainer', 0):.0f} |")
        print(lines[-1], flush=True)
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    parser.add_argument("--data", default=",".join(DATASETS), help="comma-separated")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-imbalance-bench-"))
    lines = report_header("Imbalance (issue 28)", "python -m bench.imbalance_benchmarks")
    for name in args.data.split(","):
        lines += table(name, DATASETS[name], work)
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
