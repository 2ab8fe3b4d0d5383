"""Paths that may be local or URLs (gs://, s3://): one way to tell them apart and join them."""

from __future__ import annotations

import os
import posixpath


def is_local(path: str) -> bool:
    """True for a local path, False for a URL with a scheme (gs://, s3://, ...)."""
    return "://" not in path


def join(base: str, *parts: str) -> str:
    """os.path.join for local paths, '/'-joins for URLs (os.path would mangle nothing, but
    would use the local separator)."""
    return os.path.join(base, *parts) if is_local(base) else posixpath.join(base, *parts)


def absolute(path: str) -> str:
    """A local path made absolute; a URL as it is."""
    return os.path.abspath(path) if is_local(path) else path
