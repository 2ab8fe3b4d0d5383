"""report.html: one page per run tying the summary to the pictures the Trainer drew.

The pictures are copied from the run's ModelRun artifact into `<run_dir>/report/`
so the page opens from disk with no server (`visionpipe report RUN_DIR` re-renders it).
"""

from __future__ import annotations

import html
import json
import os
from typing import Any

import tensorflow as tf

from components.common.paths import is_local
from components.data_review.gallery import (
    IMAGE_ISSUES_PNG,
    LABEL_ISSUES_PNG,
    NEAR_COPIES_PNG,
    OUTLIERS_PNG,
)
from components.insights.figures import (
    CONFUSION_JSON,
    CONFUSION_PNG,
    CURVES_FILE,
    FEATURE_MAPS_PREFIX,
    INSIGHTS_DIR,
    MISTAKES_FILE,
)
from components.insights.grad_cam import GRAD_CAM_PREFIX
from pipeline.reporting.summary import (
    SUMMARY_FILE,
    blessing_note,
    data_review_rows,
    drift_line,
    image_issue_lines,
    leakage_line,
)

REPORT_FILE = "report.html"
REPORT_ASSETS = "report"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.3em 0 1em; }
.good { color: #126b12; font-weight: bold; } .bad { color: #a11; font-weight: bold; }
"""


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _href(path: str) -> str:
    """A link to a file outside the report folder: URLs as they are, local paths absolute."""
    return "file://" + os.path.abspath(path) if is_local(path) else path


def _copy_pictures(artifact: str | None, assets_dir: str) -> dict[str, str]:
    """Copies an artifact's insights/*.png|json into assets_dir; returns {file name: relative
    link}. The Trainer's (training pictures) and the Evaluator's (the verdict's) never share
    a file name."""
    copied: dict[str, str] = {}
    source = os.path.join(artifact, INSIGHTS_DIR) if artifact else None
    if not source or not tf.io.gfile.isdir(source):
        return copied
    tf.io.gfile.makedirs(assets_dir)
    for name in sorted(tf.io.gfile.listdir(source)):
        tf.io.gfile.copy(os.path.join(source, name), os.path.join(assets_dir, name), overwrite=True)
        copied[name] = f"{REPORT_ASSETS}/{name}"
    return copied


def _leakage_cell(summary: dict[str, Any]) -> str:
    report = summary.get("leakage_report")
    link = (f' (<a href="{_esc(_href(report))}">leakage report</a>)' if report else "")
    fraction = (summary.get("leakage") or {}).get("fraction", 0) or 0
    css = "bad" if fraction else "good"
    return f'<span class="{css}">{_esc(leakage_line(summary))}</span>{link}'


def _data_pictures(summary: dict[str, Any], pictures: dict[str, str]) -> list[str]:
    """The data review's pictures: label issues, outliers, near-copies, image issues."""
    found = summary.get("label_issues") or {}
    report = found.get("report")
    link = f' (<a href="{_esc(_href(report))}">label_issues.json</a>)' if report else ""
    parts = []
    for name, title in ((LABEL_ISSUES_PNG, "Likely label errors (given -> suggested, score)"),
                        (OUTLIERS_PNG, "Outliers: far from every class"),
                        (NEAR_COPIES_PNG, "Near-copies in feature space (pairs side by side)"),
                        (IMAGE_ISSUES_PNG, "Image issues (dark, blurry, tiny, ...)")):
        if name in pictures:
            parts += [f"<h2>{_esc(title)}</h2>",
                      f'<img src="{pictures[name]}" alt="{_esc(title)}">']
    if parts and link:
        parts.insert(1, f"<p>{_esc(found.get('features', ''))}{link}</p>")
    return parts


def render_report(run_dir: str) -> str:
    """Writes <run_dir>/report.html from summary.json and the Trainer's pictures; returns its path."""
    summary_path = os.path.join(run_dir, SUMMARY_FILE)
    if not os.path.isfile(summary_path):
        raise FileNotFoundError(f"{summary_path}: no summary; is {run_dir} a visionpipe run folder?")
    with open(summary_path) as f:
        summary = json.load(f)
    assets = os.path.join(run_dir, REPORT_ASSETS)
    pictures = {**_copy_pictures(summary.get("data_review"), assets),
                **_copy_pictures(summary.get("model_run"), assets),
                **_copy_pictures(summary.get("evaluation"), assets)}
    blessed = summary.get("blessed")
    parts = [f"<h1>visionpipe run: {_esc(summary.get('name', ''))}</h1>"]
    verdict = ('<span class="good">blessed and pushed</span>' if summary.get("pushed_to")
               else '<span class="bad">not blessed, nothing pushed</span>')
    parts.append(f"<p>{verdict}</p>")

    facts = [("data", _esc(summary.get("data"))), ("layout", _esc(summary.get("layout", ""))),
             ("classes", _esc(", ".join(summary.get("class_names", []))))]
    facts += [("warning", f'<span class="bad">{_esc(w)}</span>') for w in summary.get("warnings", [])]
    facts += [(f"examples ({split})", count)
              for split, count in summary.get("examples_per_split", {}).items()]
    quarantine = summary.get("quarantine_report")
    quarantine_link = (f' (<a href="{_esc(_href(quarantine))}">quarantine report</a>)'
                       if quarantine else "")
    facts += [("quarantined files", f"{_esc(summary.get('quarantined'))}{quarantine_link}"),
              ("ignored files", _esc(summary.get("ignored"))),
              ("duplicate groups", _esc((summary.get("duplicates") or {}).get("groups", 0))),
              ("near-copies across splits", _leakage_cell(summary)),
              *[("image issues", _esc(line)) for line in image_issue_lines(summary)],
              *[(_esc(name), _esc(text)) for name, text in
                (data_review_rows(summary) if summary.get("label_issues") else [])],
              *([("drift", _esc(drift_line(summary)))] if summary.get("drift") else []),
              *([("training", _esc(summary["training"]["stopped"]))]
                if (summary.get("training") or {}).get("stopped") else []),
              ("blessed", f"{_esc(blessed)} ({_esc(blessing_note(summary))})"),
              ("pushed to", _esc(summary.get("pushed_to") or "nothing pushed")),
              ("run seconds", _esc(summary.get("seconds")))]
    facts += [("failed threshold", _esc(f)) for f in summary.get("failed_thresholds", [])]
    parts += ["<h2>Summary</h2>", _table(facts)]

    parts += _data_pictures(summary, pictures)

    metrics = summary.get("metrics", {})
    if metrics:
        splits = list(metrics)
        names = sorted({name for values in metrics.values() for name in values})
        heading = tuple(f"{split} (blessing)" if split == summary.get("blessed_on") else split
                        for split in splits)
        parts += ["<h2>Metrics per split</h2>",
                  f"<p>The Trainer measures train and validation; the Evaluator measures "
                  f"{_esc(summary.get('blessed_on'))}, where the thresholds apply: "
                  f"{_esc(blessing_note(summary))}.</p>",
                  _table([(_esc(name), *[_esc(metrics[s].get(name, "")) for s in splits])
                          for name in names], ("metric", *heading))]

    split = _esc(summary.get("blessed_on", ""))
    if CURVES_FILE in pictures:
        parts += ["<h2>Training curves (train and validation)</h2>",
                  f'<img src="{pictures[CURVES_FILE]}" alt="training curves">']
    if CONFUSION_PNG in pictures:
        parts += [f"<h2>Confusion matrix ({split} split, the blessing's)</h2>",
                  f'<img src="{pictures[CONFUSION_PNG]}" alt="confusion matrix">']
        with tf.io.gfile.GFile(os.path.join(summary["evaluation"], INSIGHTS_DIR,
                                            CONFUSION_JSON)) as f:
            confusion = json.load(f)
        rows = [(_esc(name), _esc(values["precision"]), _esc(values["recall"]),
                 _esc(values["f1"]), _esc(values["support"]))
                for name, values in confusion["per_class"].items()]
        parts += [_table(rows, ("class", "precision", "recall", "F1", f"{split} images")),
                  f'<p><a href="{pictures[CONFUSION_JSON]}">confusion_matrix.json</a></p>']
    if MISTAKES_FILE in pictures:
        parts += [f"<h2>Most confident mistakes ({split} split)</h2>",
                  f'<img src="{pictures[MISTAKES_FILE]}" alt="most confident mistakes">']
    looked = sorted(name for name in pictures if name.startswith(GRAD_CAM_PREFIX))
    if looked:
        parts.append(f"<h2>Where the model looked ({split} split; Grad-CAM, for the class it "
                     "predicted)</h2>")
        parts += [f'<img src="{pictures[name]}" alt="{_esc(name)}">' for name in looked]
    feature_maps = [name for name in pictures if name.startswith(FEATURE_MAPS_PREFIX)]
    if feature_maps:
        parts.append("<h2>The journey of an image through the convolutions</h2>")
        parts += [f'<img src="{pictures[name]}" alt="{_esc(name)}">' for name in feature_maps]

    config = summary.get("config", {})
    if config:
        parts += ["<h2>Configuration and hyper-parameters</h2>",
                  _table([(_esc(k), _esc(v)) for k, v in config.items()], ("setting", "value"))]
    seconds, peaks = summary.get("component_seconds", {}), summary.get("component_peak_mb", {})
    if seconds:
        parts += ["<h2>Time and peak memory per component</h2>",
                  _table([(_esc(k), _esc(v), _esc(peaks.get(k, "-"))) for k, v in seconds.items()],
                         ("component", "seconds", "peak memory (MB)"))]
    links = [("summary.json", SUMMARY_FILE), ("run log", "run.log")]
    if summary.get("model_run"):
        links.append(("TensorBoard logs and history.json (ModelRun)", _href(summary["model_run"])))
    parts += ["<h2>Files</h2><ul>"] + [
        f'<li><a href="{_esc(target)}">{_esc(label)}</a></li>' for label, target in links] + ["</ul>"]

    page = ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>visionpipe: {_esc(summary.get('name', ''))}</title><style>{_STYLE}</style>"
            "</head><body>" + "\n".join(parts) + "</body></html>\n")
    path = os.path.join(run_dir, REPORT_FILE)
    with open(path, "w") as f:
        f.write(page)
    return path
