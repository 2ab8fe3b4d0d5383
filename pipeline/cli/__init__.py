"""The `visionpipe` command line: the parser (main.py), one handler per command (commands.py),
and the flags built from the settings dataclasses (flags.py)."""

from pipeline.cli.main import build_parser, console, main

__all__ = ["build_parser", "console", "main"]
