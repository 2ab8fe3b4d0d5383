"""The run's progress lines: each component's wall time and peak memory."""

import logging
import time

import numpy as np

from pipeline.reporting.progress import console_progress


def _component(log: logging.Logger, name: str, work) -> None:
    log.info("Component %s is running.", name)
    work()
    log.info("Component %s is finished.", name)


def test_each_component_gets_its_own_peak_memory_and_time(tmp_path, capsys):
    def allocate():
        block = np.ones(300_000_000 // 8)  # 300 MB, every page touched
        time.sleep(0.6)  # a few of the sampler's readings
        del block

    log = logging.getLogger("tfx.orchestration.test")
    with console_progress(str(tmp_path / "run.log")) as progress:
        _component(log, "Small", lambda: time.sleep(0.6))
        _component(log, "Big", allocate)
    assert set(progress.seconds) == {"Small", "Big"} and progress.seconds["Big"] >= 0.5
    assert progress.peak_mb["Big"] >= progress.peak_mb["Small"] + 250
    printed = capsys.readouterr().out
    assert f"✓ Big ({progress.seconds['Big']:.1f} s, peak" in printed
