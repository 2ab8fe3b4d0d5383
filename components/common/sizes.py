"""Sizes as people write them ('2GB', '512MiB', '20Gi', '0'), read by one function."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9,
          "T": 1e12, "TB": 1e12, "KI": 1024, "KIB": 1024, "MI": 1024**2, "MIB": 1024**2,
          "GI": 1024**3, "GIB": 1024**3, "TI": 1024**4, "TIB": 1024**4}


def parse_bytes(text: str, flag: str) -> int:
    """'2GB', '512MB', '300KB', '1.5G', '20Gi', '0' -> bytes; ValueError naming flag otherwise."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", str(text).strip())
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"{flag} {text!r}: use a size such as 2GB, 512MB or 20Gi")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_bytes(size: float) -> str:
    """Bytes for people: '812 B', '3.4 MB', '1.27 GB' (powers of 1000, as parse_bytes's GB)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} B"
