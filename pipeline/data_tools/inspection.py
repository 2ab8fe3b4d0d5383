"""What the data looks like: its layout (found before every run and compile) and `visionpipe
inspect` (everything a run would ingest, found without training, in seconds).

The layout fixes the class names once, so that label ids, per-class metrics and the served
vocabulary agree for the whole run. The inspection runs the ExampleGen's own plan
(plan.py), reading code (ingest.py) and duplicate search (duplicates.py), in a thread pool
here instead of Beam, so its counts are the ones a run gets.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

from components.common.class_balance import counts_line, imbalance_line, imbalance_ratio
from components.common.paths import absolute
from components.data_review import review
from components.image_example_gen import duplicates, image_issues, sources
from components.image_example_gen.ingest import Quarantined, chunked, ingest_chunk
from components.image_example_gen.layout import TRAIN, DataError, DataLayout, newest_span
from components.image_example_gen.plan import plan_ingestion
from components.kfp.object_store import use_filesystems
from pipeline.config import PipelineConfig
from pipeline.data_tools import feature_review

__all__ = ["DataError", "DataLayout", "find_layout", "format_inspection", "inspect",
           "layout_lines", "listed_class_lines"]

PROGRESS_FROM = 1000  # images: a progress bar on folders at least this big
LISTED = 10  # files and pairs shown on the console (all are in --json)


def find_layout(config: PipelineConfig) -> DataLayout:
    """The layout of the run's input; DataError with a one-line reason when it is unusable."""
    try:
        found = sources.source(config.ingest.data_format)
    except ValueError as error:
        raise DataError(str(error)) from None
    use_filesystems([config.data, config.validation_data or "", config.test_data or ""])
    return found.discover(config.data, config.validation_data, config.test_data,
                          config.ingest.split_ratio)


def layout_lines(layout: DataLayout) -> list[str]:
    """The layout as `run` and `compile` print it first."""
    lines = [f"layout: {layout.description}",
             f"classes ({len(layout.class_names)}): {', '.join(layout.class_names)}",
             f"splits: {', '.join(layout.roles)}; the blessing is measured on "
             f"{layout.blessing_split}"]
    return lines + [f"warning: {warning}" for warning in layout.warnings]


def _plan(config: PipelineConfig, layout: DataLayout):
    """The ExampleGen's plan of what a run started now reads (the newest span)."""
    options = config.ingest_options(layout.class_names).with_inputs(layout.inputs)
    return options, plan_ingestion(layout.input_base,
                                   [(s.name, s.pattern) for s in newest_span(layout)], options)


def listed_class_lines(config: PipelineConfig, layout: DataLayout) -> list[str]:
    """Images per class per input as listed (before any is read: a run's first lines) and
    the training input's imbalance. A hash-split input is counted whole: the split keeps
    each class's proportions, so its imbalance is the training split's."""
    _, plan = _plan(config, layout)
    inputs = newest_span(layout)
    counts = {split.name: dict.fromkeys(layout.class_names, 0) for split in inputs}
    for _, item, input_name in plan.entries:
        counts[input_name][item.class_name] += 1
    lines = [f"images per class, as listed: {_input_label(split)}: {counts_line(counts[split.name])}"
             for split in inputs]
    training = next(split for split in inputs if TRAIN in dict(split.shares))
    return lines + [imbalance_line(imbalance_ratio(counts[training.name]),
                                   f"in {_input_label(training)}")]


def _input_label(split) -> str:
    return "the data" if split.pattern in ("", ".") else f"{split.pattern}"


def inspect(config: PipelineConfig, progress: bool = True,
            label_issues: bool = False) -> dict[str, Any]:
    """Every fact `inspect` reports, as JSON-ready values; DataError for unusable data.
    label_issues: also the data review's findings (feature_review.py); NoFeatures at once
    when no pretrained weights can be had here."""
    if label_issues:
        feature_review.check(config)
    layout = find_layout(config)
    options, plan = _plan(config, layout)
    source = sources.source(options.data_format)

    def read(chunk):
        return ingest_chunk(source, plan.input_base, chunk, options.image_shape,
                            options.max_pixels, options.model_side)

    records, signatures, quarantined, flagged = [], [], [], []
    chunks = chunked(plan.entries, source, plan.input_base)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool, tqdm(
            total=len(plan.entries), desc="reading", unit="image",
            disable=not progress or len(plan.entries) < PROGRESS_FROM) as shown:
        for results in pool.map(read, chunks):
            shown.update(len(results))
            for result in results:
                if isinstance(result, Quarantined):
                    quarantined.append(result.to_json())
                else:
                    records.append(result.record)
                    signatures.append((result.member, result.thumbnail))
                    if result.record.measures.issues:
                        flagged.append((result.record.item.id, result.record.measures.issues))
    group_keys, found = duplicates.find_in_memory(signatures, plan.shares)
    per_split: Counter[str] = Counter()
    per_class: dict[str, Counter[str]] = {}
    roles = []
    for record in records:
        role = duplicates.role_of(plan.shares[record.input],
                                  group_keys.get(record.index, record.sha256))
        roles.append(role)
        per_split[role] += 1
        per_class.setdefault(role, Counter())[record.item.class_name] += 1
    counts = {role: per_split[role] for role in plan.roles}
    class_counts = {role: {name: per_class.get(role, {}).get(name, 0)
                           for name in layout.class_names} for role in plan.roles}
    issues = image_issues.collect(flagged, len(records))
    reviewed = (feature_review.review_records(config, source, plan.input_base, records, roles,
                                              layout.class_names, options.image_shape, progress)
                if label_issues else None)
    return {
        "data": absolute(config.data),
        "layout": layout.description,
        "warnings": list(layout.warnings),
        "classes": layout.class_names,
        "blessed_on": layout.blessing_split,
        "images_per_split": counts,
        "images_per_class": {role: dict(sorted(per_class.get(role, {}).items()))
                             for role in plan.roles},
        "class_counts": class_counts,
        "imbalance_ratio": imbalance_ratio(class_counts.get(TRAIN, {})),
        "quarantined": {"count": len(quarantined),
                        "files": sorted(quarantined, key=lambda e: e["path"])},
        "ignored": {"count": len(plan.ignored), "files": plan.ignored},
        "duplicates": {key: found[key] for key in ("groups", "images_in_groups", "exact_copies",
                                                   "label_conflict_count", "largest_groups",
                                                   "label_conflicts")},
        "leakage": {**duplicates.leakage(found, counts),
                    "by_split": found["near_copies_in_training"],
                    "pairs": found["cross_split_pairs"]},
        "image_issues": issues.to_json(),
        "greyscale_data_set": issues.greyscale_data_set,
        **({"label_issues": reviewed["label_issues"], "data_review": reviewed}
           if reviewed else {}),
    }


def format_inspection(facts: dict[str, Any]) -> str:
    """The facts for a person: a few lines, the first problems of each kind listed."""
    lines = [f"data: {facts['data']}", f"layout: {facts['layout']}",
             f"classes ({len(facts['classes'])}): {', '.join(facts['classes'])}",
             "images per split: " + ", ".join(f"{role} {count}" for role, count
                                              in facts["images_per_split"].items())
             + f" (the blessing is measured on {facts['blessed_on']})"]
    lines += [f"images per class ({role}): {counts_line(counts)}"
              for role, counts in facts["class_counts"].items()]
    lines.append(imbalance_line(facts["imbalance_ratio"]))
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
    issues = image_issues.ImageIssues.from_json(facts["image_issues"])
    issues = dataclasses.replace(issues, greyscale_data_set=facts["greyscale_data_set"])
    lines += [f"image issues: {line}" for line in issues.lines()]
    if "data_review" in facts:
        lines += review.lines(facts["data_review"])
    return "\n".join(lines)
