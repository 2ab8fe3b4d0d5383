"""What the benchmark scripts share: where things are, the report option, and the report's end."""

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"  # real data sets; benchmarks only, never tests


def report_option(parser: argparse.ArgumentParser) -> None:
    """--report FILE: also write the Markdown report there."""
    parser.add_argument("--report", default=None, metavar="FILE",
                        help="also write the Markdown report to this file")


def finish(lines: list[str], report: str | None, work: Path) -> None:
    """Prints the report, writes it to report when given, removes the scratch folder."""
    text = "\n".join(lines) + "\n"
    print(text)
    if report:
        Path(report).write_text(text)
    shutil.rmtree(work, ignore_errors=True)


def commit() -> str:
    """The commit being measured (with '+changes' when the working tree differs from it)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True).stdout.strip()
    return f"{head}+changes" if dirty else head


def report_header(title: str, script: str, note: str = "") -> list[str]:
    """A report's first lines: its title, and the machine, date, commit and command."""
    return [title, "", f"Machine: {os.cpu_count()} cores, CPU only; measured "
            f"{time.strftime('%Y-%m-%d')} on {commit()} by `{script}`{note}.", ""]
