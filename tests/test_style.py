"""The code base stays ruff clean (the linter is a test dependency, so CI runs it)."""

import subprocess
import sys

from conftest import REPO


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                             str(REPO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
