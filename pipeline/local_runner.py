"""Run the pipeline here, on Beam's in-process runner: checks, progress, summary.

Thin on purpose: it checks the data, chooses the orchestrator (TFX's LocalDagRunner)
and the metadata store, then reports what the run produced.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from tfx import v1 as tfx

from components.image_example_gen import sources
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.progress import console_progress
from pipeline.summary import SUMMARY_FILE, collect_summary

LOG_FILE = "run.log"


class RunFailed(RuntimeError):
    """The run stopped; the message says why in one line."""


def inspect_data(data: str) -> tuple[dict[str, str] | None, list[str]]:
    """The user's split folders (or None) and the sorted class names; raises RunFailed if unusable."""
    if not os.path.exists(data) and "://" not in data:
        raise RunFailed(f"{data}: no such folder")
    if "://" not in data and not os.path.isdir(data):
        raise RunFailed(f"{data}: not a folder (expected one sub-folder of images per class)")
    split_folders = sources.find_split_folders(data)
    patterns = list(split_folders.values()) if split_folders else [sources.WHOLE_TREE]
    class_names = sorted(
        {name for p in patterns for _, name in sources.list_split(data, p).images}
    )
    if not class_names:
        raise RunFailed(
            f"{data}: no images found (expected <class>/<image> with extensions "
            "jpg, jpeg, png, gif or bmp)"
        )
    if len(class_names) == 1:
        raise RunFailed(
            f"{data}: only one class ({class_names[0]}); a classifier needs at least 2 class folders"
        )
    return split_folders, class_names


def _reason(error: BaseException) -> str:
    """The innermost error's first line: TFX wraps component failures in several layers."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def run_pipeline(config: PipelineConfig) -> dict[str, Any]:
    """Runs the whole pipeline locally and returns the summary (also written to summary.json)."""
    split_folders, class_names = inspect_data(config.data)
    os.makedirs(config.run_dir, exist_ok=True)
    pipeline = create_pipeline(
        config,
        class_names=class_names,
        split_folders=split_folders,
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
    summary = collect_summary(config.metadata_path)
    summary.update(
        name=config.name,
        data=config.data,
        run_dir=config.run_dir,
        log_file=log_file,
        seconds=round(time.monotonic() - started, 1),
        component_seconds=progress.seconds,
        cached_components=sorted(progress.cached),
        config={k: v for k, v in vars(config).items()},
    )
    with open(os.path.join(config.run_dir, SUMMARY_FILE), "w") as f:
        json.dump(summary, f, indent=2, default=str)
    return summary
