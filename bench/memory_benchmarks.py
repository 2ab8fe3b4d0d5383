"""Data larger than memory (issue 17): the Trainer's peak memory as the data grows, the disk
cache's training-input speed next to the memory cache's, and the pipeline's cost curve.

    python -m bench.memory_benchmarks --report FILE [--sizes 10000,50000,100000]
                                      [--pipeline-sizes 1000,10000] [--tables peak,input,cost]

1. Trainer peak RSS at 150 px with `--cache-memory 1GB`: a real pipeline run on 1,000
   generated 500x375 JPEGs gives the Examples and the transform graph; its training split
   is repeated to N Examples (decoding costs the same per record; duplicates do not
   matter to memory), and run_fn trains one short epoch on them in a fresh process that
   reports its own peak RSS (getrusage). The in-memory cache ("auto") is measured beside
   it at the smallest size.
2. Training input, disk cache vs memory cache, same decoded images: images/s of two
   augmented epochs, median of interleaved repeats.
3. The pipeline's cost curve: wall time of every component and the run's peak RSS
   through `visionpipe run` (1-2 epochs) at each size.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, finish, report_header, report_option
from bench.photos import photo_sized
from components.common import label_vocabulary

SIZE = "150"
REPEATS = 3
BUDGET = "1GB"
CHILD = """
import json, resource, sys
from tfx.components.trainer.fn_args_utils import FnArgs
from components.trainer.run_fn import run_fn
work, train, evaluation, transform, budget = sys.argv[1:6]
run_fn(FnArgs(working_dir=work, train_files=[train], eval_files=[evaluation],
              transform_output=transform, transform_graph_path=transform,
              serving_model_dir=work + "/model", model_run_dir=work + "/run",
              custom_config={"image_spec": {"height": 150, "width": 150, "channels": 3},
                             "model": "scratch", "epochs": 1, "steps_per_epoch": 20,
                             "cache_memory": budget}))
print(json.dumps({"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


# `visionpipe ARGS` in a process that reports its own peak RSS on exit (the local runner
# runs every component, Beam included, inside that one process).
PEAK_MARK = "PEAK_RSS"
WRAPPED_CLI = (
    "import atexit, resource, runpy, sys; atexit.register(lambda: print("
    f"'{PEAK_MARK}', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "
    "file=sys.stderr)); sys.argv = ['visionpipe'] + sys.argv[1:]; "
    "runpy.run_module('pipeline.cli', run_name='__main__')")


def _cli(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    """The command's result and its peak RSS in bytes."""
    result = subprocess.run([sys.executable, "-c", WRAPPED_CLI, *args], cwd=REPO,
                            capture_output=True, text=True, check=False)
    peaks = [int(line.split()[1]) for line in result.stderr.splitlines()
             if line.startswith(PEAK_MARK)]
    return result, peaks[-1] if peaks else 0


def base_run(work: Path, count: int, name: str) -> tuple[float, dict, int]:
    """A real pipeline run on count photo-sized JPEGs: (wall s, summary, peak RSS of the run)."""
    data = photo_sized(work / f"photos-{count}", count)
    started = time.perf_counter()
    result, peak = _cli("run", "--data", str(data), "--name", name, "--output", str(work / "runs"),
                  "--image-size", SIZE, "--epochs", "1", "--min-accuracy", "0",
                  "--min-class-recall", "0", "--no-baseline")
    wall = time.perf_counter() - started
    if result.returncode not in (0, 3):
        raise RuntimeError(result.stderr[-2000:])
    summary = json.loads((work / "runs" / name / "summary.json").read_text())
    shutil.rmtree(data)
    return wall, summary, peak


def artifacts(summary: dict) -> tuple[Path, Path]:
    root = Path(summary["run_dir"]) / "artifacts"
    examples = sorted((root / "ImageExampleGen" / "examples").iterdir())[-1]
    transform = sorted((root / "Transform" / "transform_graph").iterdir())[-1]
    return examples, transform


def repeated_split(examples: Path, split: str, count: int, target: Path) -> str:
    """A Split-<split> folder of count Examples: the split's records repeated."""
    import tensorflow as tf

    records = [r.numpy() for r in tf.data.TFRecordDataset(
        tf.io.gfile.glob(str(examples / f"Split-{split}" / "*")), compression_type="GZIP")]
    folder = target / f"Split-{split}"
    folder.mkdir(parents=True)
    vocabulary = examples / label_vocabulary.FILE_NAME  # run_fn reads the classes beside the splits
    if not (target / vocabulary.name).exists():
        shutil.copy(vocabulary, target / vocabulary.name)
    shards = max(1, count // 5000)
    writers = [tf.io.TFRecordWriter(str(folder / f"data-{i:05d}.gz"),
                                    options=tf.io.TFRecordOptions(compression_type="GZIP"))
               for i in range(shards)]
    for index in range(count):
        writers[index % shards].write(records[index % len(records)])
    for writer in writers:
        writer.close()
    return str(folder / "*")


def trainer_peak(work: Path, examples: Path, transform: Path, count: int, budget: str) -> dict:
    target = work / f"examples-{count}"
    if not target.exists():
        repeated_split(examples, "train", count, target)
        repeated_split(examples, "validation", max(1, count // 10), target)
    run = Path(tempfile.mkdtemp(dir=work))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(run), str(target / "Split-train" / "*"),
         str(target / "Split-validation" / "*"), str(transform), budget],
        cwd=REPO, capture_output=True, text=True,
        env=os.environ)
    seconds = time.perf_counter() - started
    shutil.rmtree(run, ignore_errors=True)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1][:200]}
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return {**json.loads(lines[-1]), "seconds": seconds}


def peak_table(work: Path, examples: Path, transform: Path, sizes: list[int]) -> list[str]:
    lines = [f"### Trainer peak RSS vs images ({SIZE} px, `--cache-memory {BUDGET}`; one short "
             "epoch after decoding every image once; goal: <= 1.2x from the smallest to the "
             "largest)", "",
             "| training images | pixels decoded (GB) | cache | peak RSS (MB) | vs smallest | "
             "Trainer s |", "|---|---|---|---|---|---|"]
    first = None
    cases = [(sizes[0], "auto")] + [(n, BUDGET) for n in sizes]
    for count, budget in cases:
        found = trainer_peak(work, examples, transform, count, budget)
        pixels = count * 150 * 150 * 3 / 1e9
        if "error" in found:
            lines.append(f"| {count:,} | {pixels:.2f} | {budget} | failed: {found['error']} | | |")
        else:
            mb = found["peak_rss"] / 1e6
            if budget == BUDGET and first is None:
                first = mb
            ratio = f"{mb / first:.2f}x" if budget == BUDGET else "(memory path)"
            lines.append(f"| {count:,} | {pixels:.2f} | {budget} | {mb:,.0f} | {ratio} | "
                         f"{found['seconds']:.0f} |")
        print(lines[-1], flush=True)
    return lines + [""]


def input_speed_table(work: Path, examples: Path, transform: Path, count: int) -> list[str]:
    """Two augmented epochs from the memory cache vs the disk cache, same decoded images."""
    import functools

    import tensorflow_transform as tft

    from components.trainer import input_pipeline
    from components.trainer.augmentation import augment_batch
    from components.trainer.hparams import COURSE_AUGMENTATION

    target = work / f"examples-{count}"
    if not target.exists():
        repeated_split(examples, "train", count, target)
    patterns = [str(target / "Split-train" / "*")]
    output = tft.TFTransformOutput(str(transform))
    augment = functools.partial(augment_batch, config=COURSE_AUGMENTATION)
    memory = input_pipeline.decoded_images(patterns, output)
    scratch = tempfile.mkdtemp(dir=work)
    disk = input_pipeline.decoded_images(patterns, output, scratch=scratch)

    def rate(decoded) -> float:
        batches = input_pipeline.training_batches(decoded.training, 32, augment=augment)
        started, seen = time.perf_counter(), 0
        for _ in range(2):
            for images, _ in batches:
                seen += int(images.shape[0])
        return seen / (time.perf_counter() - started)

    rates = [(rate(memory), rate(disk)) for _ in range(REPEATS)]
    shutil.rmtree(scratch, ignore_errors=True)
    in_memory = float(np.median([m for m, _ in rates]))
    on_disk = float(np.median([d for _, d in rates]))
    return [f"### Training input, disk cache vs memory cache ({count:,} images at {SIZE} px, "
            f"course augmentation, 2 epochs, median of {REPEATS} interleaved repeats; goal "
            ">= 0.8x)", "", "| cache | images/s | ratio |", "|---|---|---|",
            f"| memory | {in_memory:,.0f} | 1.00x |",
            f"| disk (sharded raw records, {disk.location}) | {on_disk:,.0f} | "
            f"{on_disk / in_memory:.2f}x |", ""]


def cost_table(work: Path, sizes: list[int]) -> list[str]:
    """Seconds and peak memory of every component, and of the whole run, at each size; and
    how each grew from one size to the next (10x the images growing 10x is linear)."""
    rows, components = {}, []
    for count in sizes:
        wall, summary, peak = base_run(work, count, f"cost-{count}")
        seconds, peaks = summary.get("component_seconds", {}), summary.get("component_peak_mb", {})
        components += [c for c in seconds if c not in components]
        rows[count] = (wall, seconds, peaks, peak)
        print(count, wall, seconds, peaks, flush=True)
    header = ["| images | " + " | ".join(components) + " | run |",
              "|---" * (len(components) + 2) + "|"]
    lines = [f"### The pipeline's cost curve (`visionpipe run`, 500x375 JPEGs, {SIZE} px, scratch "
             "CNN, 1 epoch, every component in one process)", "", "Seconds:", "", *header]
    for count, (wall, seconds, _, _) in rows.items():
        cells = " | ".join(f"{seconds.get(c, 0):.0f}" for c in components)
        lines.append(f"| {count:,} | {cells} | {wall:.0f} |")
    lines += ["", "Peak memory (MB; a component's: the process's resident memory while it ran, "
              "see pipeline/reporting/progress.py; the run's: its high-water mark):", "", *header]
    for count, (_, _, peaks, peak) in rows.items():
        cells = " | ".join(f"{peaks.get(c, 0):,}" for c in components)
        lines.append(f"| {count:,} | {cells} | {peak / 1e6:,.0f} |")
    lines += ["", "Growth (time ratio for the ratio of images; below 1 per image is better than "
              "linear):", "", *header]
    for small, large in zip(sizes, sizes[1:], strict=False):
        (wall_s, seconds_s, _, _), (wall_l, seconds_l, _, _) = rows[small], rows[large]
        cells = " | ".join(f"{seconds_l.get(c, 0) / seconds_s[c]:.1f}x" if seconds_s.get(c, 0) >= 1
                           else "-" for c in components)
        lines.append(f"| {small:,} -> {large:,} ({large / small:.0f}x) | {cells} | "
                     f"{wall_l / wall_s:.1f}x |")
    return lines + [""]


TABLES = ("peak", "input", "cost")


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--pipeline-sizes", default="1000,10000")
    parser.add_argument("--tables", default=",".join(TABLES),
                        help=f"which tables, comma-separated, of {','.join(TABLES)}")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-memory-bench-"))
    lines = report_header("## Data larger than memory (issue 17)", "bench/memory_benchmarks.py",
                          ", all rows in one run")
    tables = set(args.tables.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
    if tables & {"peak", "input"}:
        _, summary, _ = base_run(work, 1000, "base")
        examples, transform = artifacts(summary)
    if "peak" in tables:
        lines += peak_table(work, examples, transform, sizes)
    if "input" in tables:
        lines += input_speed_table(work, examples, transform, sizes[0])
    if "cost" in tables and args.pipeline_sizes:
        lines += cost_table(work, [int(s) for s in args.pipeline_sizes.split(",")])
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
