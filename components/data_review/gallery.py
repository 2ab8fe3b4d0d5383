"""The data review's pictures: the images behind each finding, with what was found.

label_issues.png (given -> suggested, score), outliers.png, near_copies.png (the pair side
by side) and image_issues.png (a few of each kind the ExampleGen measured), drawn into the
review's insights/ folder for the run's report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from components.insights.figures import INSIGHTS_DIR, image_grid

LABEL_ISSUES_PNG = "label_issues.png"
OUTLIERS_PNG = "outliers.png"
NEAR_COPIES_PNG = "near_copies.png"
IMAGE_ISSUES_PNG = "image_issues.png"
SHOWN = 16  # images per picture
SHOWN_PER_KIND = 4  # image issues per kind
SHOWN_PAIRS = 8


def shown_paths(found: dict[str, Any], image_issues: dict[str, dict]) -> set[str]:
    """Every image a picture shows (so the caller reads just those)."""
    paths = {i["path"] for i in found.get("label_issues", [])[:SHOWN]}
    paths |= {o["path"] for o in found.get("outliers", [])[:SHOWN]}
    for pair in found.get("near_copies", {}).get("pairs", [])[:SHOWN_PAIRS]:
        paths |= {pair["a"], pair["b"]}
    for kind in image_issues.values():
        paths |= set(kind.get("paths", [])[:SHOWN_PER_KIND])
    return paths


def _short(path: str, width: int = 28) -> str:
    return path if len(path) <= width else "..." + path[-width + 3:]


def draw(found: dict[str, Any], image_issues: dict[str, dict],
         image_of: Callable[[str], np.ndarray | None], output_dir: str) -> list[str]:
    """Draws the pictures into output_dir/insights/; image_of: a path's pixels (or None);
    returns the files written."""
    folder = os.path.join(output_dir, INSIGHTS_DIR)
    tf.io.gfile.makedirs(folder)
    written = []

    def grid(entries: list[tuple[str, str]], name: str, empty: str) -> None:
        shown = [(image_of(path), caption) for path, caption in entries]
        shown = [(image, caption) for image, caption in shown if image is not None]
        written.append(image_grid([image for image, _ in shown], [c for _, c in shown],
                                  os.path.join(folder, name), empty))

    if "label_issues" in found and not found.get("skipped"):
        grid([(i["path"], f"{_short(i['path'])}\n{i['given']} -> {i['suggested']} ({i['score']:.2f})")
              for i in found["label_issues"][:SHOWN]], LABEL_ISSUES_PNG, "no label issues")
        grid([(o["path"], f"{_short(o['path'])}\n{o['label']}, distance {o['distance']:.2f}")
              for o in found["outliers"][:SHOWN]], OUTLIERS_PNG, "no outliers")
        pairs = []
        for pair in found["near_copies"]["pairs"][:SHOWN_PAIRS]:
            pairs += [(pair["a"], f"{_short(pair['a'])}\n{pair['a_label']} ({pair['a_split']})"),
                      (pair["b"], f"{_short(pair['b'])}\n{pair['b_label']} ({pair['b_split']}), "
                                  f"{pair['similarity']:.3f}")]
        grid(pairs, NEAR_COPIES_PNG, "no near-copies in feature space")
    grid([(path, f"{_short(path)}\n{kind}") for kind, entry in image_issues.items()
          for path in entry.get("paths", [])[:SHOWN_PER_KIND]], IMAGE_ISSUES_PNG,
         "no image issues")
    return written
