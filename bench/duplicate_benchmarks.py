"""Duplicates and leakage (issue 14), measured side by side in one run; prints a Markdown report.

    python -m bench.duplicate_benchmarks [--report FILE] [--skip-memory]

1. What counts as a near-copy: for 300 real photographs (Caltech-101), the fraction of
   each kind of copy the search finds, and the pairs it finds among all 1,915 photos.
2. Leakage found on real data: sign_mnist_sample split by a hash of the row (what the
   pipeline did before) and by near-copy groups (what it does now); rps_28px train/ vs test/.
3. ExampleGen throughput with the fingerprints and the duplicate search vs without (the
   ExampleGen before them, commit 7bf506f, from a git worktree), on the same photo-sized
   JPEGs, interleaved runs. Goal: <= 1.1x the time.
4. Peak RSS of the ExampleGen (grouping included) on 20,000 and 100,000 generated images,
   each in its own process: without the duplicate search, with the search on the grey hash
   alone (the commit before the colour hash) and now; the candidate pairs of each. Goal: flat.
5. The same two searches on 20,000 of the cost curve's photo-sized images, whose grey hashes
   crowd (`--only crowded`).
"""

import argparse
import dataclasses
import gzip
import hashlib
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageEnhance

from bench.common import REPO, SHARED, finish, report_option
from bench.photos import photo_sized
from components.image_example_gen import duplicates
from components.image_example_gen.fingerprints import fingerprint
from components.image_example_gen.layout import TEST, TRAIN
from components.image_example_gen.sources import image_folder, pixel_csv
from components.image_example_gen.validation import decode_for_validation
from pipeline.data_tools.demo import CLASSES, draw_shape

CALTECH = SHARED / "caltech101_18"
RPS = SHARED / "rps_28px"
SIGN = SHARED / "sign_mnist_sample.csv.gz"
BEFORE = "7bf506f"  # the last commit without fingerprints and the duplicate search
GREY_ONLY = "a6e6684"  # the last commit whose search bucketed on the grey hash alone


def _encode(picture: Image.Image, fmt: str = "JPEG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _crop(picture: Image.Image, left: float, top: float, right: float, bottom: float):
    w, h = picture.size
    return picture.crop((int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom))))


COPIES = {
    "JPEG re-encode, quality 30": lambda p: _encode(p, quality=30),
    "resized to a quarter": lambda p: _encode(p.resize((max(1, p.width // 4),
                                                        max(1, p.height // 4)))),
    "PNG copy": lambda p: _encode(p, "PNG"),
    "brightness x1.2": lambda p: _encode(ImageEnhance.Brightness(p).enhance(1.2)),
    "brightness x0.7": lambda p: _encode(ImageEnhance.Brightness(p).enhance(0.7)),
    "contrast x1.3": lambda p: _encode(ImageEnhance.Contrast(p).enhance(1.3)),
    "saturation x1.3": lambda p: _encode(ImageEnhance.Color(p).enhance(1.3)),
    "crop 3% each side": lambda p: _encode(_crop(p, .03, .03, .03, .03)),
    "crop 5% one side": lambda p: _encode(_crop(p, .05, 0, 0, 0)),
    "crop 10% each side": lambda p: _encode(_crop(p, .1, .1, .1, .1)),
    "rotated 3 degrees": lambda p: _encode(p.rotate(3, resample=Image.Resampling.BILINEAR)),
    "grey copy": lambda p: _encode(p.convert("L")),
    "mirrored": lambda p: _encode(p.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
}


def _signature(index: int, data: bytes, name: str, input_name: str, label: str):
    info, pixels = decode_for_validation(data)
    found = fingerprint(data, pixels, info.orientation)
    member = duplicates.Member(index, name, input_name, label, found.sha256, found.phash)
    return member, found.thumbnail


def near_copy_table() -> list[str]:
    photos = sorted(CALTECH.glob("*/*/*.jpg"))
    sample = random.Random(0).sample(photos, 300)
    found = {name: 0 for name in COPIES}
    for path in sample:
        data = path.read_bytes()
        original = _signature(0, data, "original", "all", "x")
        picture = Image.open(io.BytesIO(data)).convert("RGB")
        for name, make in COPIES.items():
            copy = _signature(1, make(picture), "copy", "all", "x")
            distance = duplicates.hamming(original[0].phash, copy[0].phash)
            pair = np.array([[0, 1, distance]], dtype=np.int64)
            found[name] += distance <= duplicates.MAX_DISTANCE and bool(
                duplicates.confirmed_edges(pair, {0: original, 1: copy}))
    everything = [_signature(i, p.read_bytes(), str(p.relative_to(CALTECH)), "all", p.parent.name)
                  for i, p in enumerate(photos)]
    _, report = duplicates.find_in_memory(everything, {"all": ((TRAIN, 100),)})
    lines = ["### What counts as a near-copy (300 Caltech-101 photographs, one copy of each kind)",
             "", f"Near-copy: perceptual hashes within {duplicates.MAX_DISTANCE} of 64 bits and "
             f"colour thumbnails correlating at >= {duplicates.MIN_CORRELATION}.", "",
             "| copy | found |", "|---|---|"]
    lines += [f"| {name} | {count / len(sample):.0%} |" for name, count in found.items()]
    lines += ["", f"Among all {len(photos):,} Caltech-101 photos (about 1.8 million pairs) the "
              f"search groups {report['images_in_groups']} images into {report['groups']} groups "
              f"({report['exact_copies']} byte-identical copies); the collection itself holds "
              "near-identical shots, e.g. "
              + "; ".join(" ~ ".join(m["path"] for m in group[:2])
                          for group in report["largest_groups"][:3]) + ".", ""]
    return lines


def leakage_table() -> list[str]:
    rows = gzip.decompress(SIGN.read_bytes()).decode().splitlines()[1:]
    signatures = []
    for number, row in enumerate(rows, start=2):
        label = row.split(",", 1)[0]
        data = pixel_csv.encode_png(pixel_csv.parse_row(row, (28, 28, 1)))
        row_id = f"sign_mnist_sample.csv.gz:{number}"
        # Before: TFX's hash split of the relative path, 80 % train / 20 % eval.
        bucket = int(hashlib.sha256(row_id.encode()).hexdigest(), 16) % 100
        signatures.append(_signature(number, data, row_id, "train" if bucket < 80 else "eval",
                                     label))
    by_row = {"train": ((TRAIN, 100),), "eval": ((TEST, 100),)}
    _, before = duplicates.find_in_memory(signatures, by_row)
    eval_rows = sum(1 for member, _ in signatures if member.input == "eval")
    together = [(dataclasses.replace(member, input="all"), thumbnail)
                for member, thumbnail in signatures]
    shares = {"all": ((TRAIN, 80), ("validation", 10), (TEST, 10))}
    keys, now = duplicates.find_in_memory(together, shares)
    roles = [duplicates.role_of(shares["all"], keys.get(m.index, m.sha256)) for m, _ in together]
    sizes = {role: roles.count(role) for role in (TRAIN, "validation", TEST)}

    def listing(split):
        return [(item, split) for item in image_folder.list_split(str(RPS), split).items]

    rps = []
    for index, (item, split) in enumerate(listing("train") + listing("test")):
        rps.append(_signature(index, (RPS / item.id).read_bytes(), item.id, split,
                              item.class_name))
    _, rps_report = duplicates.find_in_memory(rps, {"train": ((TRAIN, 100),),
                                                    "test": ((TEST, 100),)})
    rps_test = sum(1 for member, _ in rps if member.input == "test")
    rps_leaked = rps_report["near_copies_in_training"].get(TEST, 0)
    leaked_before = sum(before["near_copies_in_training"].values())
    return [
        "### Leakage found on real data", "",
        "| data | split | evaluated images | with a near-copy in training | fraction |",
        "|---|---|---|---|---|",
        f"| sign_mnist_sample ({len(rows):,} rows) | by row hash, 80/20 (the pipeline before) "
        f"| {eval_rows} | {leaked_before} | {leaked_before / eval_rows:.1%} |",
        f"| sign_mnist_sample | by near-copy group, 80/10/10 (now) | "
        f"{sizes['validation'] + sizes[TEST]} | 0 | 0.0% |",
        f"| rps_28px | train/ vs test/ folders | {rps_test} | {rps_leaked} | "
        f"{rps_leaked / rps_test:.1%} |", "",
        f"sign_mnist_sample forms {now['groups']} near-copy groups holding "
        f"{now['images_in_groups']:,} of its {len(rows):,} rows (each official test row is an "
        f"augmented copy of a few source photos); kept whole, the group-aware split gives "
        f"train {sizes[TRAIN]}, validation {sizes['validation']}, test {sizes[TEST]} rows. "
        f"rps_28px: {rps_report['groups']} groups hold {rps_report['images_in_groups']:,} of "
        f"{len(rps):,} images (consecutive frames of one rendered hand), none across "
        "train/ and test/.", ""]


EXECUTOR_PROBE = {  # the ExampleGen executor, timed and measured in a process of its own
    "now": """
from components.image_example_gen.component import executor_properties
from components.image_example_gen.sources.image_folder import discover
properties = executor_properties(data, discover(data).inputs)
""",
    "before": """
import os
from components.image_example_gen.component import executor_properties
user_split = os.path.isdir(os.path.join(data, "validation"))  # train/ + validation/ folders
properties = executor_properties(data, {"train": "train", "eval": "validation"} if user_split
                                 else None)
""",
}
PROBE = """
import os, resource, sys, time
data, out = sys.argv[1], sys.argv[2]
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts
from components.image_example_gen.executor import Executor
{properties}
examples = standard_artifacts.Examples()
examples.uri = out
started, cpu_started = time.perf_counter(), time.process_time()
Executor(BaseBeamExecutor.Context(beam_pipeline_args=["--runner=FnApiRunner",
                                                    "--sdk_container_image=visionpipe-local"])).Do(
    {{}}, {{"examples": [examples]}}, properties)
print(time.perf_counter() - started, time.process_time() - cpu_started,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


class ExecutorRun(NamedTuple):
    seconds: float  # wall time of Do
    peak_kb: int  # peak RSS of the process
    cpu_seconds: float  # CPU time of Do, every thread (less sensitive to a shared machine)


def run_executor(version: str, tree: Path, data: Path, out: Path) -> ExecutorRun:
    """One executor run of `version`'s code in tree, in a process of its own."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(properties=EXECUTOR_PROBE[version]), str(data),
         str(out)], cwd=tree, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(tree)})
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    seconds, cpu_seconds, rss = result.stdout.split()[-3:]
    return ExecutorRun(float(seconds), int(rss), float(cpu_seconds))


def varied_photos(root: Path, count: int = 3000, size=(500, 375)) -> Path:
    """Photo-sized JPEGs of distinct content: a smooth random colour field, a shape of one of
    the demo classes on it, camera-like noise; two classes."""
    rng = np.random.default_rng(7)
    for i in range(count):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        field = np.asarray(Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
            size, Image.Resampling.BICUBIC), np.float32)
        shape = np.asarray(draw_shape(CLASSES[i % 3], rng, size), np.float32)
        mixed = 0.55 * field + 0.45 * shape + rng.normal(0, 6, field.shape)
        (folder / f"{i}.jpg").write_bytes(_encode(Image.fromarray(
            np.clip(mixed, 0, 255).astype(np.uint8)), quality=90))
    return root


# The two layouts the throughput is measured on: a folder of class folders (hash split: pass
# two writes each image after the search) and the user's own split folders (each image is
# written as it is read). Folder names both versions read as train + validation.
LAYOUTS = {"class folders (hash split)": None,
           "train/ + validation/ folders": ("train", "validation")}
VALIDATION_EVERY = 5  # every 5th photo goes to validation/ in the split-folders layout
THROUGHPUT_REPEATS = 5  # interleaved runs per version: one run's time varies by about 15 % here


def _photo_subset(photos: Path, target: Path, count: int, split_folders) -> Path:
    """The first count photos of photos, hard-linked into target in the given layout."""
    for folder in ("a", "b"):
        paths = sorted((photos / folder).glob("*.jpg"), key=lambda p: int(p.stem))[:count // 2]
        for position, path in enumerate(paths):
            split = () if split_folders is None else (
                split_folders[position % VALIDATION_EVERY == 0],)
            (target.joinpath(*split, folder)).mkdir(parents=True, exist_ok=True)
            os.link(path, target.joinpath(*split, folder, path.name))
    return target


def throughput_table(work: Path, before: Path, sizes=(3000, 10_000)) -> list[str]:
    lines = ["### ExampleGen with fingerprints and the duplicate search vs without "
             "(goal <= 1.1x the time)", "",
             "Photo-sized JPEGs of distinct content (500x375), the executor in a process of its "
             "own (Beam's FnApiRunner, the project's Beam arguments), median of "
             f"{THROUGHPUT_REPEATS} interleaved runs each (written back to disk between "
             f"runs); 'without' is the ExampleGen of commit {BEFORE} (one pass), 'with' "
             "today's (fingerprints, the duplicate search; on a hash split, a second read of "
             "each file to write it after the search). Two layouts of the same photos: class "
             "folders only (today: 3 splits by the group-aware hash) and train/ + "
             f"validation/ folders (every {VALIDATION_EVERY}th photo in validation/).", "",
             "CPU seconds are every thread's, summed: less sensitive than wall time to "
             "whatever else the machine runs.", "",
             "| layout | images | without (before) s | img/s | with s | img/s | time ratio | "
             "CPU s without | with | CPU ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    photos = varied_photos(work / "photos", max(sizes))
    for layout, split_folders in LAYOUTS.items():
        for count in sizes:
            subset = _photo_subset(photos, work / f"photos-{count}-{len(lines)}", count,
                                   split_folders)
            times = {"before": [], "now": []}
            cpu = {"before": [], "now": []}
            for repeat in range(THROUGHPUT_REPEATS):
                for version, tree in (("before", before), ("now", REPO)):
                    out = work / f"out-{len(lines)}-{version}-{repeat}"
                    os.sync()  # the run before's output is on disk, not written back meanwhile
                    run = run_executor(version, tree, subset, out)
                    shutil.rmtree(out)
                    times[version].append(run.seconds)
                    cpu[version].append(run.cpu_seconds)
            old, new = statistics.median(times["before"]), statistics.median(times["now"])
            old_cpu, new_cpu = statistics.median(cpu["before"]), statistics.median(cpu["now"])
            lines.append(f"| {layout} | {count:,} | {old:.1f} | {count / old:,.0f} | "
                         f"{new:.1f} | {count / new:,.0f} | {new / old:.2f}x | {old_cpu:.1f} | "
                         f"{new_cpu:.1f} | {new_cpu / old_cpu:.2f}x |")
            print(f"{layout} {count}: wall {times}, cpu {cpu}", flush=True)
            print(lines[-1], flush=True)
    return lines + [""]


def generated(root: Path, count: int) -> Path:
    """count distinct small photos-like JPEGs in 2 classes, 1 % of them near-copies."""
    rng = np.random.default_rng(count)
    for i in range(count):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        if i % 100 == 99:  # a re-encoded copy of the previous image of the class
            source = Image.open(folder / f"{i - 2}.jpg")
            (folder / f"{i}.jpg").write_bytes(_encode(source, quality=60))
            continue
        field = Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).resize(
            (80, 60), Image.Resampling.BICUBIC)
        (folder / f"{i}.jpg").write_bytes(_encode(field, quality=85))
    return root


def candidate_counts(data: Path) -> tuple[int, int, int]:
    """(candidate pairs on the grey hash alone, with the colour hash too, confirmed) among the
    images of a generated folder, counted in this process."""
    signatures = [_signature(i, path.read_bytes(), path.name, "all", path.parent.name)
                  for i, path in enumerate(sorted(data.glob("*/*.jpg")))]
    counts = [duplicates.candidate_pairs(signatures, colour_max_distance) for colour_max_distance
              in (duplicates.COLOUR_BITS, duplicates.COLOUR_MAX_DISTANCE)]
    confirmed = duplicates.confirmed_edges(counts[1], dict(enumerate(signatures)))
    return len(counts[0]), len(counts[1]), len(confirmed)


def crowded_table(work: Path, grey_only: Path, count: int = 20_000) -> list[str]:
    """The cost curve's photos (a circle on a flat background of a random colour, whose grey
    hashes crowd): the ExampleGen with the grey-hash search vs now, and their candidates."""
    data = photo_sized(work / f"crowded-{count}", count)
    grey_seconds, grey, _ = run_executor("now", grey_only, data, work / "crowded-grey")
    seconds, new, _ = run_executor("now", REPO, data, work / "crowded-now")
    grey_pairs, pairs, confirmed = candidate_counts(data)
    return ["### Crowded grey hashes: the cost curve's photos, grey-hash search vs now", "",
            f"{count:,} generated 500x375 JPEGs (bench/photos.py: a circle on a flat background "
            "of a random colour), the ExampleGen in a process of its own.", "",
            "| code | ExampleGen s | peak RSS MB | candidate pairs | confirmed |",
            "|---|---|---|---|---|",
            f"| grey-hash search ({GREY_ONLY}) | {grey_seconds:.0f} | {grey / 1024:,.0f} | "
            f"{grey_pairs:,} | {confirmed:,} |",
            f"| now (the colour hash must agree too) | {seconds:.0f} | {new / 1024:,.0f} | "
            f"{pairs:,} | {confirmed:,} |", ""]


def memory_table(work: Path, before: Path, grey_only: Path) -> list[str]:
    lines = ["### ExampleGen peak RSS vs data size, grouping included (goal: flat)", "",
             "Generated 80x60 JPEGs (1 % near-copies), each size and code in its own process: "
             f"without the search ({BEFORE}), the search on the grey hash alone ({GREY_ONLY}), "
             "and now (a colour hash must agree too before a pair is a candidate; the bands "
             "searched from one 28-byte hash array per image; the records of hash-split "
             "images wait for the groups on disk). Candidate pairs counted in-process on the "
             "same images.", "",
             "| images | without MB | grey-hash search MB | s | now MB | s | candidate pairs, "
             "grey hash alone | now | confirmed |", "|---|---|---|---|---|---|---|---|---|"]
    rss = {}
    for count in (20_000, 100_000):
        data = generated(work / f"gen-{count}", count)
        _, old, _ = run_executor("before", before, data, work / f"mem-before-{count}")
        grey_seconds, grey, _ = run_executor("now", grey_only, data, work / f"mem-grey-{count}")
        seconds, new, _ = run_executor("now", REPO, data, work / f"mem-now-{count}")
        grey_pairs, pairs, confirmed = candidate_counts(data)
        rss[count] = (old, grey, new)
        lines.append(f"| {count:,} | {old / 1024:,.0f} | {grey / 1024:,.0f} | {grey_seconds:.0f} "
                     f"| {new / 1024:,.0f} | {seconds:.0f} | {grey_pairs:,} | {pairs:,} | "
                     f"{confirmed:,} |")
        print(lines[-1], flush=True)
    growth = [rss[100_000][i] / rss[20_000][i] for i in range(3)]
    return lines + ["", "Peak RSS, 100,000 vs 20,000 images: without the search "
                    f"{growth[0]:.2f}x, grey-hash search {growth[1]:.2f}x, now {growth[2]:.2f}x.",
                    ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only", choices=("copies", "leakage", "throughput", "memory", "crowded"),
                        default=None, help="run one table alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-dup-bench-"))
    before, grey_only = work / "before", work / "grey-only"
    for tree, commit in ((before, BEFORE), (grey_only, GREY_ONLY)):
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO,
                       check=True, capture_output=True)
    try:
        lines = ["## Duplicates and leakage (issue 14)", "",
                 f"Machine: {os.cpu_count()} cores; measured {time.strftime('%Y-%m-%d')} by "
                 "`python -m bench.duplicate_benchmarks`, all tables in one run.", ""]
        for name, table in (("copies", near_copy_table), ("leakage", leakage_table)):
            if args.only in (None, name):
                lines += table()
                print("\n".join(lines[-8:]), flush=True)
        if args.only in (None, "throughput"):
            lines += throughput_table(work, before)
            print("\n".join(lines[-8:]), flush=True)
        if args.only in (None, "memory") and not args.skip_memory:
            lines += memory_table(work, before, grey_only)
        if args.only in (None, "crowded"):
            lines += crowded_table(work, grey_only)
    finally:
        for tree in (before, grey_only):
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO,
                           check=False, capture_output=True)
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
