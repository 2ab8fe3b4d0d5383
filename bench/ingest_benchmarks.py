"""The data components at the decode limit (issue 31), on real photos; one run.

    python -m bench.ingest_benchmarks --report FILE [--data caltech101_18,caltech101]
        [--only ratio|scaling|breakdown] [--before COMMIT]

1. The ExampleGen (everything on; and with the duplicate search off) against a plain
   one-thread `tf.io.decode_image` loop over the same files (goal >= 1.0x), the ExampleGen
   of commit --before (BEFORE by default) beside it, and StatisticsGen's time against the
   ExampleGen's (goal <= 1x), --before's StatisticsGen beside it on the same Examples.
   Each executor in a process of its own, REPEATS interleaved runs, medians.
2. Scaling: the ExampleGen's images/s with 1, 2 and 4 read threads, and with 2 Beam
   workers (multi-processing), with peak memory.
3. Where the time goes, per image, in one thread: each step of the hot path timed alone,
   and what the ExampleGen's CPU time per image leaves for Beam and the rest.
"""

import argparse
import contextlib
import gzip
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, SHARED, finish, report_header, report_option

BEFORE = "10ce38b"  # the ExampleGen and StatisticsGen (TFX's executor) before this round
REPEATS = 3
DATASETS = ("caltech101_18", "caltech101")
MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
PROBE = """
import json, os, resource, sys, time, dataclasses
import components
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts
from components.image_example_gen.component import executor_properties
from components.image_example_gen.executor import Executor
from components.image_example_gen.options import IngestOptions
from components.image_example_gen.sources.image_folder import discover
data, out, beam, changes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
known = {f.name for f in dataclasses.fields(IngestOptions)}
options = dataclasses.replace(IngestOptions(), **{k: v for k, v in changes.items() if k in known})
properties = executor_properties(data, discover(data).inputs, options)
examples = standard_artifacts.Examples()
examples.uri = out
started, cpu = time.perf_counter(), time.process_time()
Executor(BaseBeamExecutor.Context(beam_pipeline_args=[
    "--runner=FnApiRunner", "--sdk_container_image=visionpipe-local", *beam])).Do(
    {}, {"examples": [examples]}, properties)
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "peak_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) // 1024}))
"""
STATISTICS_PROBE = """
import json, sys, time
import components
import os
# This project's StatisticsGen executor where the tree (the cwd) has one, TFX's before it.
# Asked of the tree's files: the editable install's finder would find a module missing
# from an older tree in the checkout's.
if os.path.exists("components/statistics_gen/executor.py"):
    from components.statistics_gen.executor import Executor
    from components.statistics_gen.options import statistics_options
else:
    from tfx.components.statistics_gen.executor import Executor
    from components.schema_gen.statistics_options import statistics_options
from tfx.components.util import examples_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
examples = standard_artifacts.Examples()
examples.uri = sys.argv[1]
examples.split_names = artifact_utils.encode_split_names(
    sorted(p.removeprefix("Split-") for p in os.listdir(sys.argv[1]) if p.startswith("Split-")))
examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
examples.set_string_custom_property("file_format", "tfrecords_gzip")
output = standard_artifacts.ExampleStatistics()
output.uri = sys.argv[2]
started = time.perf_counter()
Executor(BaseBeamExecutor.Context(beam_pipeline_args=[
    "--runner=FnApiRunner", "--sdk_container_image=visionpipe-local"])).Do(
    {"examples": [examples]}, {"statistics": [output]},
    {"exclude_splits": "[]", "stats_options_json": statistics_options().to_json()})
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def _python(tree: Path, code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(tree)})
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def example_gen(tree: Path, data: Path, out: Path, beam=(), **changes) -> dict:
    """One ExampleGen run of tree's code in a process of its own: seconds, CPU, peak MB."""
    os.sync()
    found = _python(tree, PROBE, str(data), str(out), json.dumps(list(beam)), json.dumps(changes))
    return found


def image_files(data: Path) -> list[Path]:
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() in (
        ".jpg", ".jpeg", ".png", ".gif", ".bmp", ""))


def decode_loop(files: list[Path]) -> float:
    """Images/s of the simplest reader: read, decode whole, one thread."""
    import tensorflow as tf

    started = time.perf_counter()
    for path in files:
        with contextlib.suppress(tf.errors.OpError):
            tf.io.decode_image(path.read_bytes(), channels=0, expand_animations=False)
    return len(files) / (time.perf_counter() - started)


def ratio_table(work: Path, before: Path, names: list[str], commit: str = BEFORE) -> list[str]:
    lines = ["### ExampleGen vs a one-thread decode loop (goal >= 1.0x), StatisticsGen vs "
             "ExampleGen (goal <= 1x)", "",
             f"Real photos; each executor in a process of its own (FnApiRunner, one worker, "
             f"the project's Beam arguments), median of {REPEATS} interleaved runs; the loop "
             "reads and decodes every file whole with `tf.io.decode_image` on one thread "
             f"(files in the page cache for both). Before: commit {commit}.", "",
             "| data | images | decode loop img/s | ExampleGen before img/s | ratio | "
             "ExampleGen now img/s | ratio | search off img/s | ratio | StatisticsGen before s | "
             "StatisticsGen now s | ExampleGen s | StatisticsGen / ExampleGen |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        data = SHARED / name
        files = image_files(data)
        for path in files:
            path.read_bytes()  # into the page cache
        loops, runs = [], {"before": [], "now": [], "off": []}
        for repeat in range(REPEATS):
            loops.append(decode_loop(files))
            for label, tree, changes in (("before", before, {}), ("now", REPO, {}),
                                         ("off", REPO, {"duplicate_search": False})):
                out = work / f"eg-{name}-{label}-{repeat}"
                runs[label].append(example_gen(tree, data, out, **changes)["seconds"])
        out = work / f"eg-{name}-now-0"  # both StatisticsGens on today's Examples, interleaved
        stats_runs: dict[str, list[float]] = {"before": [], "now": []}
        for i in range(REPEATS):
            for label, tree in (("before", before), ("now", REPO)):
                stats_runs[label].append(_python(tree, STATISTICS_PROBE, str(out), str(
                    work / f"stats-{name}-{label}-{i}"))["seconds"])
        stats_before, stats = (statistics.median(stats_runs[k]) for k in ("before", "now"))
        loop = statistics.median(loops)
        speed = {label: len(files) / statistics.median(values) for label, values in runs.items()}
        now = statistics.median(runs["now"])
        lines.append(f"| {name} | {len(files):,} | {loop:,.0f} | {speed['before']:,.0f} | "
                     f"{speed['before'] / loop:.2f}x | {speed['now']:,.0f} | "
                     f"{speed['now'] / loop:.2f}x | {speed['off']:,.0f} | "
                     f"{speed['off'] / loop:.2f}x | {stats_before:.1f} | {stats:.1f} | {now:.1f} | "
                     f"{stats / now:.2f}x |")
        print(lines[-1], runs, loops, stats_runs, flush=True)
    return lines + [""]


def scaling_table(work: Path, name: str) -> list[str]:
    data = SHARED / name
    count = len(image_files(data))
    lines = [f"### The ExampleGen's scaling ({name}, {count:,} photos)", "",
             f"Median of {REPEATS} runs each; peak memory of the process (or of its largest "
             "worker).", "", "| Beam workers | read threads per worker | img/s | peak MB |",
             "|---|---|---|---|"]
    for workers, threads, beam in ((1, 1, []), (1, 2, []), (1, 4, []), (2, 2, MULTI)):
        found = [example_gen(REPO, data, work / f"scale-{workers}-{threads}-{i}", beam,
                             read_threads=threads) for i in range(REPEATS)]
        seconds = statistics.median(f["seconds"] for f in found)
        lines.append(f"| {workers} | {threads} | {count / seconds:,.0f} | "
                     f"{max(f['peak_mb'] for f in found):,} |")
        print(lines[-1], flush=True)
    return lines + [""]


def _record_writer():
    """What the Examples' sink does to each record: TFRecord framing (CRCs) into one gzip
    stream of stored blocks (one stream per file, as the sink keeps it open)."""
    from apache_beam.io.tfrecordio import _TFRecordUtil

    sink = gzip.GzipFile(fileobj=io.BytesIO(), mode="wb", compresslevel=0)

    def write(record: bytes) -> None:
        _TFRecordUtil.write_record(sink, record)
        sink.fileobj.seek(0)  # the bytes themselves are not kept
        sink.fileobj.truncate()

    return write


def breakdown_table(work: Path, name: str) -> list[str]:
    """Each hot-path step timed alone on one thread, and the rest of the ExampleGen's CPU."""
    import hashlib

    import numpy as np

    from components.image_example_gen import jpeg_header
    from components.image_example_gen.example_encoding import serialized_example
    from components.image_example_gen.fingerprints import (
        fingerprints_of,
        hash_picture,
        upright_rgb,
    )
    from components.image_example_gen.image_measures import measure_all
    from components.image_example_gen.ingest import chunk_size, size_sample
    from components.image_example_gen.validation import decode_all_for_validation

    files = image_files(SHARED / name)
    steps: dict[str, float] = {}

    def timed(step, call, *args):
        started = time.perf_counter()
        value = call(*args)
        steps[step] = steps.get(step, 0.0) + time.perf_counter() - started
        return value

    write_record = _record_writer()
    size = chunk_size([path.stat().st_size for path in size_sample(files)], len(files))
    for start in range(0, len(files), size):  # as the ExampleGen does: chunk by chunk
        paths = files[start:start + size]
        datas = [timed("read the file", path.read_bytes) for path in paths]
        for data in datas:
            timed("header (size, EXIF)", jpeg_header.read, data)
        found = timed("validation decode (the chunk's JPEGs in one graph call; incl. header)",
                      decode_all_for_validation, datas)
        decoded = []
        for path, data, result in zip(paths, datas, found, strict=True):
            if isinstance(result, ValueError):
                continue
            info, pixels = result
            rgb = timed("upright + 32 x 32 picture", upright_rgb, pixels, info.orientation)
            decoded.append((path, data, info, timed("upright + 32 x 32 picture", hash_picture,
                                                    rgb)))
        if not decoded:
            continue
        pictures = np.stack([picture for *_, picture in decoded])
        timed("fingerprint (sha256, pHash, thumbnail; the chunk's as arrays)", fingerprints_of,
              [data for _, data, _, _ in decoded], pictures)
        measured = timed("image measures (the chunk's as arrays)", measure_all, pictures,
                         [(info.height, info.width) for _, _, info, _ in decoded], 150)
        for (path, data, info, _), found in zip(decoded, measured, strict=True):
            record = timed("build and serialise the Example", serialized_example, path.name,
                           "c", 0, data, info, found)
            timed("TFRecord framing + gzip (stored)", write_record, record)
            timed("content hash (sha256)", hashlib.sha256, data)
    per = {step: seconds / len(files) * 1e6 for step, seconds in steps.items()}
    run = example_gen(REPO, SHARED / name, work / f"breakdown-{name}", read_threads=1)
    cpu = run["cpu"] / len(files) * 1e6
    counted = sum(value for step, value in per.items()
                  if step not in ("header (size, EXIF)", "content hash (sha256)"))
    lines = [f"### Where the time goes, per image ({name}, one thread)", "",
             "Each step timed alone over every photo; the ExampleGen's CPU time per image "
             "(one read thread, one Beam worker) less their sum is Beam, the duplicate search, "
             "the copy of the staged hash-split Examples and the rest. The header and content "
             "hash rows are inside the decode and fingerprint rows.", "",
             "| step | us per image |", "|---|---|"]
    lines += [f"| {step} | {value:.0f} |" for step, value in per.items()]
    lines += [f"| the ExampleGen, all of it (CPU) | {cpu:.0f} |",
              f"| Beam, search, staged copy and the rest | {cpu - counted:.0f} |", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=",".join(DATASETS))
    parser.add_argument("--only", choices=("ratio", "scaling", "breakdown"))
    parser.add_argument("--before", default=BEFORE, help="the commit whose ExampleGen runs "
                        f"beside today's (default: {BEFORE})")
    report_option(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-ingest-bench-"))
    before = work / "before"
    lines = report_header("## Ingestion on real photos (issue 31)",
                          "python -m bench.ingest_benchmarks")
    names = args.data.split(",")
    if args.only in (None, "ratio"):
        subprocess.run(["git", "worktree", "add", "--detach", str(before), args.before],
                       cwd=REPO, check=True, capture_output=True)
        try:
            lines += ratio_table(work, before, names, args.before)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=REPO,
                           check=False, capture_output=True)
    if args.only in (None, "scaling"):
        lines += scaling_table(work, names[-1])
    if args.only in (None, "breakdown"):
        lines += breakdown_table(work, names[-1])
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
