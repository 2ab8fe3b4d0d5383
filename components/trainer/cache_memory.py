"""`--cache-memory`: a size or auto (plain Python, no TensorFlow: the training config checks the
flag when the command line builds it; decode_cache.memory_budget reads the budget from it)."""

from __future__ import annotations

from components.common.sizes import parse_bytes

AUTO = "auto"


def parse_size(text: str) -> int | None:
    """'2GB', '512MB', '0' -> bytes; 'auto' -> None; ValueError otherwise."""
    if str(text).strip().lower() == AUTO:
        return None
    return parse_bytes(text, "--cache-memory")
