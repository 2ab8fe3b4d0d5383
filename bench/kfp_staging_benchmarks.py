"""Open-source KFP's staging (issue 29): bytes each task's pod downloads and uploads, and the
harness's own seconds beside the executor's; one run.

    python -m bench.kfp_staging_benchmarks --report FILE [--data demo,caltech101]

Each data set is copied into the local S3 API server's bucket, compiled against it (a small
CNN at 32 px, one epoch: the bytes staged are what matters, not the model) and executed with
`visionpipe kfp-local --platform oss` semantics (pipeline/runners/kfp_local): every input
artifact downloaded into the task's pod folder before its command, the outputs uploaded after.
`demo` is the demo's generated shapes; `caltech101` all 9,144 real photographs of Caltech-101
(the nearest real set to the issue's 10,000 photo-sized JPEGs: generated JPEGs compress
differently from photos, and bytes are what is measured here).
"""

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import SHARED, finish, report_header, report_option
from components.common.sizes import format_bytes
from pipeline.data_tools.demo import make_demo_data
from pipeline.runners.kfp_local import session
from pipeline.runners.staging_disk import disk_per_task

BUCKET = "s3://visionpipe-bench"
QUICK = ["--model", "scratch", "--image-size", "32", "--epochs", "1", "--min-accuracy", "0",
         "--min-class-recall", "0", "--no-baseline"]


def data_folder(name: str, work: Path) -> Path:
    if name == "demo":
        return make_demo_data(work / "demo-data")
    return SHARED / name


def measure(name: str, work: Path) -> list[str]:
    from pipeline.cli.main import main

    folder = data_folder(name, work)
    data_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    images = sum(1 for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    package = work / name / "pipeline.yaml"
    data_uri, root = f"{BUCKET}/{name}/data", f"{BUCKET}/{name}/root"
    # Compiled against the local folder (same layout), its data_root pointed at the bucket.
    code = main(["compile", "--data", str(folder), "--name", name, "--image", "local",
                 "--pipeline-root", root, "--output", f"{BUCKET}/{name}", "--package",
                 str(package), "--data-size", str(data_bytes), *QUICK])
    if code:
        raise RuntimeError(f"compile failed for {name}")
    started = time.perf_counter()
    ran = session.run(str(package), root, {"data_root": data_uri}, "oss",
                      [(str(folder), data_uri)], on_task=print, state_dir=str(work / name / "state"))
    wall = time.perf_counter() - started
    estimate = disk_per_task(list(ran.runs), data_bytes, {})
    lines = [f"### {name}: {images:,} images, {format_bytes(data_bytes)} of files", "",
             "| task | downloaded | objects down | uploaded | objects up | executor s | "
             "harness s (staging, input, output) | compiled staging disk |",
             "|---|---|---|---|---|---|---|---|"]
    for task, run in ran.runs.items():
        staged = run.staged
        lines.append(
            f"| {task} | {format_bytes(staged.downloaded_bytes)} | {staged.downloaded_objects} | "
            f"{format_bytes(staged.uploaded_bytes)} | {staged.uploaded_objects} | "
            f"{run.command_seconds:.1f} | {run.seconds - run.command_seconds:.1f} | "
            f"{estimate.get(task, '-')} |")
    total_down = sum(run.staged.downloaded_bytes for run in ran.runs.values())
    lines += ["", f"Whole execution {wall:.0f} s; {format_bytes(total_down)} downloaded by all "
              "pods together.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="demo,caltech101")
    report_option(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kfp-staging-"))
    lines = report_header("## Kubeflow staging (open-source KFP's launcher)",
                          "python -m bench.kfp_staging_benchmarks")
    for name in args.data.split(","):
        lines += measure(name, work)
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
