"""TensorFlow's error text made readable: one line, without graph and op decorations."""

from __future__ import annotations

import re

# '{{function_node __wrapped__DecodeImage_device_/job:...}} ' and ' [Op:DecodeImage]'.
_DECORATIONS = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]")
_NOISE_PREFIXES = ("Graph execution error", "Detected at node", "<stack traces", "[[", "File ")


def first_line(error: object, limit: int = 200) -> str:
    """The first line of an error, undecorated."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return _DECORATIONS.sub("", text)[:limit]


def op_error_message(message: str, limit: int = 500) -> str:
    """The line of a TensorFlow op error that says what was wrong, without graph noise."""
    lines = [line.strip() for line in message.splitlines()]
    meaningful = [line for line in lines if line and not line.startswith(_NOISE_PREFIXES)]
    text = meaningful[0] if meaningful else (lines[0] if lines else "invalid input")
    return _DECORATIONS.sub("", text)[:limit]
