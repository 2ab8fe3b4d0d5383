"""What every benchmark script does at the end: print the Markdown report, save it, clean up."""

import shutil
from pathlib import Path


def finish(lines: list[str], output: str | None, work: Path) -> None:
    """Prints the report, writes it to output when given, removes the scratch folder."""
    report = "\n".join(lines) + "\n"
    print(report)
    if output:
        Path(output).write_text(report)
    shutil.rmtree(work, ignore_errors=True)
