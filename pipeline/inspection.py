"""`visionpipe inspect`: what a run would ingest, found without training, in seconds.

The layout, the classes, images per split, quarantined and ignored files, duplicate
groups and near-copies across splits: the ExampleGen's own reading code (ingest.py) and
duplicate search (duplicates.py), run in a thread pool here instead of Beam, so the
counts are the ones a run gets. `run` prints the layout part at its start.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

from components.image_example_gen import duplicates, sources
from components.image_example_gen.ingest import Quarantined, ingest
from components.image_example_gen.layout import DataLayout
from pipeline.config import PipelineConfig
from pipeline.data_layout import inspect_data

PROGRESS_FROM = 1000  # images: a progress bar on folders at least this big
LISTED = 10  # files and pairs shown on the console (all are in --json)


def layout_lines(layout: DataLayout) -> list[str]:
    """The layout as a run prints it at its start."""
    lines = [f"layout: {layout.description}",
             f"classes ({len(layout.class_names)}): {', '.join(layout.class_names)}",
             f"splits: {', '.join(layout.roles)}; the blessing is measured on "
             f"{layout.blessing_split}"]
    return lines + [f"warning: {warning}" for warning in layout.warnings]


def inspect_dataset(config: PipelineConfig, progress: bool = True) -> dict[str, Any]:
    """Every fact `inspect` reports, as JSON-ready values; DataError for unusable data."""
    layout = inspect_data(config)
    source = sources.source(config.ingest.data_format)
    shares = {split.name: split.shares for split in layout.inputs}
    entries, ignored = [], []
    for split in layout.inputs:
        listing = source.list_split(layout.input_base, split.pattern)
        entries += [(len(entries) + i, item, split.name) for i, item in enumerate(listing.items)]
        ignored += listing.ignored

    def read(entry):
        index, item, input_name = entry
        return ingest(source, layout.input_base, index, item, input_name,
                      config.ingest.image_shape, config.ingest.max_pixels)

    records, signatures, quarantined = [], [], []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = pool.map(read, entries)
        for result in tqdm(results, total=len(entries), desc="reading", unit="image",
                           disable=not progress or len(entries) < PROGRESS_FROM):
            if isinstance(result, Quarantined):
                quarantined.append(result.to_json())
            else:
                records.append(result.record)
                signatures.append((result.member, result.thumbnail))
    group_keys, found = duplicates.find_in_memory(signatures, shares)
    per_split: Counter[str] = Counter()
    per_class: dict[str, Counter[str]] = {}
    for record in records:
        role = duplicates.role_of(shares[record.input], group_keys.get(record.index, record.sha256))
        per_split[role] += 1
        per_class.setdefault(role, Counter())[record.item.class_name] += 1
    counts = {role: per_split[role] for role in layout.roles}
    return {
        "data": os.path.abspath(config.data) if "://" not in config.data else config.data,
        "layout": layout.description,
        "warnings": list(layout.warnings),
        "classes": layout.class_names,
        "blessed_on": layout.blessing_split,
        "images_per_split": counts,
        "images_per_class": {role: dict(sorted(per_class.get(role, {}).items()))
                             for role in layout.roles},
        "quarantined": {"count": len(quarantined),
                        "files": sorted(quarantined, key=lambda e: e["path"])},
        "ignored": {"count": len(ignored), "files": ignored},
        "duplicates": {key: found[key] for key in ("groups", "images_in_groups", "exact_copies",
                                                   "label_conflict_count", "largest_groups",
                                                   "label_conflicts")},
        "leakage": {**duplicates.leakage(found, counts),
                    "by_split": found["near_copies_in_training"],
                    "pairs": found["cross_split_pairs"]},
    }


def format_inspection(facts: dict[str, Any]) -> str:
    """The facts for a person: a few lines, the first problems of each kind listed."""
    lines = [f"data: {facts['data']}", f"layout: {facts['layout']}",
             f"classes ({len(facts['classes'])}): {', '.join(facts['classes'])}",
             "images per split: " + ", ".join(f"{role} {count}" for role, count
                                              in facts["images_per_split"].items())
             + f" (the blessing is measured on {facts['blessed_on']})"]
    lines += [f"warning: {warning}" for warning in facts["warnings"]]
    for kind in ("quarantined", "ignored"):
        entries = facts[kind]["files"]
        lines.append(f"{kind} files: {facts[kind]['count']}")
        lines += [f"  {e['path']}: {e['reason']}" for e in entries[:LISTED]]
        if len(entries) > LISTED:
            lines.append(f"  ... {len(entries) - LISTED} more (--json lists all)")
    found = facts["duplicates"]
    lines.append(f"duplicate groups: {found['groups']} ({found['images_in_groups']} images, "
                 f"{found['exact_copies']} byte-identical copies)")
    if found["label_conflict_count"]:
        lines.append(f"near-copies with different labels: {found['label_conflict_count']}")
        lines += [f"  {c['a']} ({c['a_label']}) ~ {c['b']} ({c['b_label']})"
                  for c in found["label_conflicts"][:LISTED]]
    leak = facts["leakage"]
    lines.append(f"near-copies across splits: {leak['with_near_copy_in_training']} of "
                 f"{leak['evaluated']} validation/test images have one in training "
                 f"({leak['fraction']:.1%})")
    lines += [f"  {p['other']} ({p['split']}) ~ {p['training']} (train), distance "
              f"{p['distance']}" for p in leak["pairs"][:LISTED]]
    return "\n".join(lines)
