"""Data problems (issue 30) on real photographs, side by side in one run; a Markdown report.

    python -m bench.data_review_benchmarks --report FILE [--only labels|cost|measures|caltech]

1. Label issues: caltech101_18 and caltech101 with 5 % of their training labels flipped at
   random (seeded), every image's features from MobileNetV2 0.35 (the real ImageNet weights,
   224 px, the review's own code); the row to beat, cleanlab's defaults (`find_label_issues`)
   on the same 5-fold logistic-regression probabilities, beside the review's ranking.
2. The review's cost per 1,000 photos (features, label issues, neighbours) beside the
   ExampleGen's on caltech101.
3. The ExampleGen with the image measures on vs off (the same code), caltech101's photos,
   interleaved runs in processes of their own (goal <= 1.05x).
4. What inspect reports on the unmodified caltech101: image issues per kind, label issues,
   outliers, near-copies (and how many of its Faces/Faces_easy pairs are among them).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, SHARED, finish, report_header, report_option
from bench.duplicate_benchmarks import run_executor
from bench.ingest_benchmarks import example_gen
from components.data_review import embeddings, label_issues, neighbours
from components.image_example_gen.sources import image_folder
from pipeline.cli.main import build_parser
from pipeline.data_tools.inspection import inspect

WEIGHTS = SHARED / "weights" / "mobilenet_v2_0.35_224_imagenet_from_teachablemachine_no_top.h5"
BASE = ["--base", "mobilenet_v2", "--alpha", "0.35", "--weights", str(WEIGHTS),
        "--image-size", "224"]
DATASETS = ("caltech101_18", "caltech101")
FLIPPED = 0.05
SEED = 0
REPEATS = 3
# The measures cost a few percent, within one run's spread (about 10 %): more repeats.
MEASURE_REPEATS = 7


def _config(data: Path):
    """The PipelineConfig `inspect --data data` with the base's flags would use."""
    from pipeline.cli.commands import config_from

    return config_from(build_parser().parse_args(["inspect", "--data", str(data), *BASE]))


def features_of(data: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str], float]:
    """(features, labels, class names, paths, seconds) of every image of data (train/ and
    test/), by the review's own code."""
    config = _config(data)
    layout = image_folder.discover(str(data))
    items = [item for split in layout.inputs
             for item in image_folder.list_split(str(data), split.pattern).items]
    names = layout.class_names
    started = time.perf_counter()
    model = embeddings.feature_model(config.training, config.image)
    records = embeddings.encoded_records(
        ((data / item.id).read_bytes(), names.index(item.class_name)) for item in items)
    found, columns = embeddings.pooled_features(records, model, config.image)
    return found, columns["label"].astype(int), names, [i.id for i in items], (
        time.perf_counter() - started)


def flip(labels: np.ndarray, paths: list[str], classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, which were flipped): FLIPPED of the training images, each to another
    class at random."""
    rng = np.random.default_rng(SEED)
    training = np.flatnonzero([p.startswith("train/") for p in paths])
    chosen = rng.choice(training, size=round(FLIPPED * len(training)), replace=False)
    noisy = labels.copy()
    for i in chosen:
        noisy[i] = rng.choice([c for c in range(classes) if c != labels[i]])
    flipped = np.zeros(len(labels), bool)
    flipped[chosen] = True
    return noisy, flipped


def _row(name: str, method: str, reported: np.ndarray, flipped: np.ndarray) -> str:
    found = int(flipped[reported].sum())
    return (f"| {name} | {method} | {len(reported)} | {found} of {int(flipped.sum())} | "
            f"{found / max(1, len(reported)):.2f} | {found / flipped.sum():.2f} | "
            f"{len(reported) - found} |")


def label_table(cache: dict) -> list[str]:
    lines = ["### Label issues: planted flips found (goal: more flips at fewer false alarms "
             "than cleanlab's defaults)", "",
             f"{FLIPPED:.0%} of the training labels flipped at random (seed {SEED}); all "
             "images (train/ and test/) reviewed; the same 5-fold logistic-regression "
             "probabilities for both rows.", "",
             "| data | method | reported | flips found | precision | recall | false alarms |",
             "|---|---|---|---|---|---|---|"]
    for name in DATASETS:
        found, labels, names, paths, _ = cache[name]
        noisy, flipped = flip(labels, paths, len(names))
        probabilities = label_issues.out_of_fold_probabilities(found, noisy)
        lines.append(_row(name, "cleanlab defaults (`find_label_issues`)",
                          label_issues.baseline_issues(noisy, probabilities), flipped))
        lines.append(_row(name, "the review (count of `filter_by=\"both\"`, ranked by "
                                "self-confidence)",
                          label_issues.ranked_issues(noisy, probabilities), flipped))
        print("\n".join(lines[-2:]), flush=True)
    return lines + [""]


def cost_table(cache: dict, work: Path) -> list[str]:
    data = SHARED / "caltech101"
    found, labels, names, paths, feature_seconds = cache["caltech101"]
    started = time.perf_counter()
    issues = label_issues.find(found, labels, names)
    label_seconds = time.perf_counter() - started
    started = time.perf_counter()
    nearest = neighbours.nearest(found)
    neighbours.outliers(nearest), neighbours.near_copies(nearest)
    neighbour_seconds = time.perf_counter() - started
    runs = [run_executor("now", REPO, data, work / f"eg-{i}").seconds for i in range(REPEATS)]
    example_gen = statistics.median(runs)
    per = 1000 / len(paths)
    print(f"{len(issues)} label issues on the unflipped caltech101", flush=True)
    return ["### The review's cost per 1,000 photos (caltech101, MobileNetV2 0.35 at 224 px)", "",
            "| step | s per 1,000 images |", "|---|---|",
            f"| ExampleGen (read, validate, measure, fingerprint, write; median of {REPEATS}) | "
            f"{example_gen * per:.1f} |",
            f"| review: features (decode, resize, the base) | {feature_seconds * per:.1f} |",
            f"| review: label issues (5-fold logistic regression, cleanlab) | "
            f"{label_seconds * per:.1f} |",
            f"| review: outliers and near-copies (neighbours) | {neighbour_seconds * per:.1f} |",
            ""]


def measures_table(work: Path) -> list[str]:
    """The ExampleGen with the image measures on and off (the internal image_measures
    switch: no measuring, no measure features), the same code side by side: wall time
    and the process's CPU time."""
    data = SHARED / "caltech101"
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for repeat in range(MEASURE_REPEATS):
        for label, measured in (("off", False), ("on", True)):
            runs[label].append(example_gen(REPO, data, work / f"m-{label}-{repeat}",
                                           image_measures=measured))
    print(runs, flush=True)
    wall = {label: statistics.median(r["seconds"] for r in found) for label, found in runs.items()}
    cpu = {label: statistics.median(r["cpu"] for r in found) for label, found in runs.items()}
    count = sum(1 for _ in data.rglob("*.jpg"))
    return ["### The ExampleGen with the image measures on vs off (goal <= 1.05x)", "",
            f"caltech101's {count:,} photos, the executor in a process of its own, median of "
            f"{MEASURE_REPEATS} interleaved runs; off: the internal `image_measures=False` "
            "(nothing measured, no measure features in the Examples).", "",
            "| off s | img/s | on s | img/s | time ratio | off CPU s | on CPU s | CPU ratio |",
            "|---|---|---|---|---|---|---|---|",
            f"| {wall['off']:.2f} | {count / wall['off']:.0f} | {wall['on']:.2f} | "
            f"{count / wall['on']:.0f} | {wall['on'] / wall['off']:.3f}x | {cpu['off']:.2f} | "
            f"{cpu['on']:.2f} | {cpu['on'] / cpu['off']:.3f}x |", ""]


def caltech_table() -> list[str]:
    data = SHARED / "caltech101"
    facts = inspect(_config(data), progress=False, label_issues=True)
    found = facts["data_review"]
    counts = ", ".join(f"{kind} {entry['count']}" for kind, entry in facts["image_issues"].items())
    pairs = found["near_copies"]["pairs"]
    faces = sum(1 for p in pairs if {p["a_label"], p["b_label"]} == {"Faces", "Faces_easy"})
    top = found["label_issues"][:20]
    return ["### What inspect reports on the unmodified caltech101", "",
            f"Image issues: {counts}" + (" (greyscale data set)" if facts["greyscale_data_set"]
                                         else "") + ".", "",
            f"Label issues: {found['count']} of {found['reviewed']:,} ({found['fraction']:.1%}); "
            f"outliers: {len(found['outliers'])}; near-copies in feature space: "
            f"{found['near_copies']['count']} pairs ({found['near_copies']['across_splits']} "
            f"across splits, {found['near_copies']['label_conflicts']} with different labels; "
            f"{faces} of them Faces ~ Faces_easy), against "
            f"{facts['duplicates']['groups']} groups by the perceptual hash.", "",
            "The top 20 label issues (given -> suggested, score):", "",
            *[f"- `{i['path']}`: {i['given']} -> {i['suggested']} ({i['score']})" for i in top],
            ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("labels", "cost", "measures", "caltech"))
    report_option(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-review-bench-"))
    lines = report_header("## Data problems (issue 30)", "python -m bench.data_review_benchmarks")
    cache = {}
    if args.only in (None, "labels", "cost"):
        cache = {name: features_of(SHARED / name) for name in DATASETS}
    if args.only in (None, "labels"):
        lines += label_table(cache)
    if args.only in (None, "cost"):
        lines += cost_table(cache, work)
    if args.only in (None, "measures"):
        lines += measures_table(work)
    if args.only in (None, "caltech"):
        lines += caltech_table()
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
