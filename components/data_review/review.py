"""The data review's findings from the features: likely label errors, outliers, near-copies.

One function for the pipeline's DataReview and `visionpipe inspect --label-issues`, so both
report the same images for the same data. Its JSON is label_issues.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from components.data_review import label_issues, neighbours
from components.image_example_gen.layout import TRAIN

REPORT_FILE = "label_issues.json"
LISTED = 10  # of each finding, on the console


def review(features: np.ndarray, labels: np.ndarray, class_names: list[str], paths: list[str],
           splits: list[str], described: str) -> dict[str, Any]:
    """label_issues.json's content: label issues (most likely first), outliers (farthest
    first), near-copies in feature space (most alike first; those across splits count as
    leakage, those with different labels as label conflicts).

    The images are taken in the order of their paths, so that the folds (and so the
    findings) do not depend on the order they were read in (`inspect` and the run agree)."""
    order = sorted(range(len(paths)), key=paths.__getitem__)
    features, labels = features[order], np.asarray(labels)[order]
    paths, splits = [paths[i] for i in order], [splits[i] for i in order]
    issues = label_issues.find(features, labels, class_names)
    found = neighbours.nearest(features)
    far = neighbours.outliers(found)
    pairs = []
    for i, j, similarity in neighbours.near_copies(found):
        pairs.append({"a": paths[i], "b": paths[j], "a_label": class_names[labels[i]],
                      "b_label": class_names[labels[j]], "a_split": splits[i],
                      "b_split": splits[j], "similarity": similarity})
    across = [p for p in pairs if p["a_split"] != p["b_split"] and TRAIN in (p["a_split"],
                                                                              p["b_split"])]
    conflicts = [p for p in pairs if p["a_label"] != p["b_label"]]
    return {
        "reviewed": len(paths),
        "features": described,
        "label_issues": [issue.to_json(paths[issue.index]) for issue in issues],
        "count": len(issues),
        "fraction": round(len(issues) / len(paths), 4) if paths else 0.0,
        "outliers": [{"path": paths[i], "label": class_names[labels[i]], "distance": distance,
                      "z": z} for i, distance, z in far],
        "near_copies": {"pairs": pairs, "count": len(pairs), "across_splits": len(across),
                        "label_conflicts": len(conflicts),
                        "similarity_from": neighbours.NEAR_COPY_SIMILARITY},
    }


def not_reviewed(reason: str) -> dict[str, Any]:
    """label_issues.json when there was no review, and why."""
    return {"reviewed": 0, "skipped": reason, "label_issues": [], "count": 0, "fraction": 0.0,
            "outliers": [], "near_copies": {"pairs": [], "count": 0, "across_splits": 0,
                                            "label_conflicts": 0}}


def lines(found: dict[str, Any]) -> list[str]:
    """The findings for a person: a line per kind, the first few of each listed."""
    if found.get("skipped"):
        return [f"label issues, outliers, near-copies in feature space: not looked for "
                f"({found['skipped']})"]
    out = [f"label issues: {found['count']} of {found['reviewed']} images "
           f"({found['fraction']:.1%}) look mislabelled (features: {found['features']})"]
    out += [f"  {i['path']}: {i['given']} -> {i['suggested']} (score {i['score']})"
            for i in found["label_issues"][:LISTED]]
    out.append(f"outliers (far from every class): {len(found['outliers'])}")
    out += [f"  {o['path']} ({o['label']}), distance {o['distance']}"
            for o in found["outliers"][:LISTED]]
    near = found["near_copies"]
    out.append(f"near-copies in feature space: {near['count']} pairs ({near['across_splits']} "
               f"across splits, {near['label_conflicts']} with different labels)")
    out += [f"  {p['a']} ~ {p['b']}, similarity {p['similarity']}"
            for p in near["pairs"][:LISTED]]
    return out
