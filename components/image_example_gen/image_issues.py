"""A data set's unusable or odd images (image_measures.KINDS), counted and listed.

The same for `visionpipe inspect` and the ExampleGen (image_issues.json in the Examples),
from the per-image issues ingest.py measured. Greyscale pictures are an issue only in a
colour data set: when at least half the images are grey, the data set is greyscale and
none is reported (the line says so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from components.image_example_gen.image_measures import KINDS

GRAYSCALE = "grayscale"
GREYSCALE_DATA_SET_FROM = 0.5  # this share of grey images makes a greyscale data set
EXAMPLES_SHOWN = 3  # paths a text line names per kind


@dataclasses.dataclass(frozen=True)
class ImageIssues:
    """{kind: sorted paths} for every kind, and whether the data set is greyscale."""

    paths: dict[str, list[str]]
    images: int
    greyscale_data_set: bool = False

    def to_json(self) -> dict[str, dict]:
        """{kind: {"count": N, "paths": [...]}} for every kind (inspect --json, summary.json)."""
        return {kind: {"count": len(self.paths[kind]), "paths": self.paths[kind]}
                for kind in KINDS}

    @classmethod
    def from_json(cls, value: dict, images: int = 0) -> ImageIssues:
        return cls({kind: list(value.get(kind, {}).get("paths", [])) for kind in KINDS}, images)

    def counts(self) -> dict[str, int]:
        return {kind: len(self.paths[kind]) for kind in KINDS}

    def lines(self) -> list[str]:
        """One line per kind found (with a few paths), or one line saying none was."""
        found = [kind for kind in KINDS if self.paths[kind]]
        lines = [f"{kind}: {len(self.paths[kind])} ({', '.join(self.paths[kind][:EXAMPLES_SHOWN])}"
                 f"{', ...' if len(self.paths[kind]) > EXAMPLES_SHOWN else ''})"
                 for kind in found]
        if self.greyscale_data_set:
            lines.append("grayscale: not an issue here (at least half the images are grey)")
        return lines or ["none found (dark, overexposed, blurry, low information, odd aspect, "
                         "tiny, greyscale in colour)"]


def collect(flagged: Iterable[tuple[str, Iterable[str]]], images: int) -> ImageIssues:
    """ImageIssues of (path, kinds) pairs, the flagged images of a data set of `images`."""
    paths: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for path, kinds in flagged:
        for kind in kinds:
            paths[kind].append(path)
    greyscale = images > 0 and len(paths[GRAYSCALE]) >= GREYSCALE_DATA_SET_FROM * images
    if greyscale:
        paths[GRAYSCALE] = []
    return ImageIssues({kind: sorted(found) for kind, found in paths.items()}, images, greyscale)
