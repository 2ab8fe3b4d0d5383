"""Run the pipeline here, on Beam's in-process runner: checks, progress, summary.

Thin on purpose: it checks the data, chooses the orchestrator (TFX's LocalDagRunner)
and the metadata store, then reports what the run produced.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

from tfx import v1 as tfx

from components.common.paths import absolute
from components.trainer.models.imagenet_weights import WeightsUnavailable, check_weights
from pipeline.config import PipelineConfig
from pipeline.data_tools.inspection import DataError, find_layout, layout_lines, listed_class_lines
from pipeline.pipeline import create_pipeline
from pipeline.reporting.progress import console_progress
from pipeline.reporting.report import REPORT_FILE, render_report
from pipeline.reporting.summary import SUMMARY_FILE, collect_summary

LOG_FILE = "run.log"


class RunFailed(RuntimeError):
    """The run stopped; the message says why in one line."""


def check_writable(folder: str) -> None:
    """Creates folder and writes a probe file in it; RunFailed naming the path otherwise."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".write-test-{os.getpid()}")
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
        os.remove(probe)
    except OSError as error:
        reason = error.strerror or str(error)
        raise RunFailed(f"{folder}: cannot write there ({reason}); choose another --output") from None


def _reason(error: BaseException) -> str:
    """The innermost error's first line: TFX wraps component failures in several layers."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    text = str(error).strip().splitlines()
    if isinstance(error, OSError) and error.filename:  # disk full, permissions: name the path
        return f"{type(error).__name__}: {error.strerror or text[0]}: {error.filename}"
    return f"{type(error).__name__}: {text[0] if text else ''}"


def run_pipeline(config: PipelineConfig) -> dict[str, Any]:
    """Runs the whole pipeline locally and returns the summary (also written to summary.json)."""
    try:
        check_weights(config.training, config.image)  # before anything runs: offline is one line
        layout = find_layout(config)
    except (DataError, WeightsUnavailable) as error:
        raise RunFailed(str(error)) from None
    check_writable(config.run_dir)  # <output>/<name>, beside <output>/serving
    for line in layout_lines(layout) + listed_class_lines(config, layout):
        print(f"[visionpipe] {line}", flush=True)
    pipeline = create_pipeline(
        config,
        layout,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
    )
    log_file = os.path.join(config.run_dir, LOG_FILE)
    started = time.monotonic()
    with console_progress(log_file) as progress:
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except Exception as error:  # noqa: BLE001 - any component failure ends the run the same way
            component = progress.failed_component or "the pipeline"
            raise RunFailed(f"{component} failed: {_reason(error)} (full log: {log_file})") from error
    summary = collect_summary(config.metadata_path, layout.blessing_split)
    summary.update(
        name=config.name,
        data=absolute(config.data),
        layout=layout.description,
        warnings=list(layout.warnings),
        run_dir=absolute(config.run_dir),
        log_file=absolute(log_file),
        seconds=round(time.monotonic() - started, 1),
        component_seconds=progress.seconds,
        component_peak_mb=progress.peak_mb,
        cached_components=sorted(progress.cached),
        config=dataclasses.asdict(config),
        report=absolute(os.path.join(config.run_dir, REPORT_FILE)),
    )
    with open(os.path.join(config.run_dir, SUMMARY_FILE), "w") as f:
        json.dump(summary, f, indent=2, default=str)
    render_report(config.run_dir)
    return summary
