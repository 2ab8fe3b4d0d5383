"""Faults: a run killed in the middle resumes from the cache; what is served never changes under it."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO
from test_end_to_end import _tree_digest

from pipeline.data_tools.demo import make_demo_data

pytestmark = pytest.mark.slow  # whole runs


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_sigkill_in_the_trainer_then_rerun_completes_from_the_cache(tmp_path):
    data = make_demo_data(tmp_path / "data", images_per_class=40, seed=3)
    args = ["--data", str(data), "--name", "killed", "--output", str(tmp_path / "runs"),
            "--image-size", "32", "--min-accuracy", "0", "--min-class-recall", "0"]
    first = _start([*args, "--epochs", "30"])
    lines = []
    deadline = time.time() + 300
    for line in first.stdout:  # wait until the Trainer is training
        lines.append(line)
        if "epoch 2/" in line or time.time() > deadline:
            break
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    assert any("epoch 2/" in line for line in lines), "".join(lines[-20:])
    serving = tmp_path / "runs" / "serving" / "killed"
    assert not serving.exists() or not any(serving.iterdir())  # nothing pushed by the killed run

    second = _start([*args, "--epochs", "30"])  # the same command again
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output[-3000:]
    summary = json.loads((tmp_path / "runs" / "killed" / "summary.json").read_text())
    assert {"ImageExampleGen", "StatisticsGen", "Transform"} <= set(summary["cached_components"])
    assert "Trainer" not in summary["cached_components"]
    assert summary["pushed_to"] and os.path.isdir(summary["pushed_to"])
    assert [p.name for p in serving.iterdir() if not p.name.isdigit()] == []  # no temp folders


def test_a_failed_push_leaves_the_served_versions_untouched(tmp_path, demo_run):
    """A half-copied temporary folder (a Pusher killed mid-copy) is invisible to the server."""
    from serving.model_store import ModelStore

    base = demo_run["output"] / "serving" / "shapes"
    before = _tree_digest(base)
    store = ModelStore("shapes", str(base))
    served = store.wait_until_loaded().version
    stale = base / ".tmp-9999999999-1"
    stale.mkdir()
    (stale / "saved_model.pb").write_bytes(b"half")
    try:
        store.refresh()
        store.refresh()
        assert store.latest().version == served
    finally:
        shutil.rmtree(stale)
    assert _tree_digest(base) == before
