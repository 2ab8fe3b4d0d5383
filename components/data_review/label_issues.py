"""Possible label errors: confident learning (cleanlab) on out-of-fold probabilities.

Every image is scored by a model that never saw it: a logistic regression on the pooled
features, fitted K times on the other folds (scikit-learn). Then:
- how many labels are likely wrong: cleanlab's `find_label_issues(filter_by="both")` count
  (confident learning's off-diagonal joint estimate, pruned by noise rate too);
- which: that many images with the lowest out-of-fold probability of their given label
  (cleanlab's `self_confidence` label quality score), most likely first.
Why not cleanlab's own choice of images (its defaults, `prune_by_noise_rate`, ranked by
margin): measured on real photos with planted flips, it returns more images and fewer
flips; the self-confidence ranking put nearly every flip first on both Caltech sets
(BENCHMARKS.md, "Label issues", where cleanlab's defaults are the row to beat).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

FOLDS = 5
MAX_ITERATIONS = 1000
SEED = 0


@dataclasses.dataclass(frozen=True)
class LabelIssue:
    """An image whose label is likely wrong: what it is called, what it looks like."""

    index: int
    given: str
    suggested: str
    score: float  # the out-of-fold probability of the given label: low is likely wrong

    def to_json(self, path: str) -> dict:
        return {"path": path, "given": self.given, "suggested": self.suggested,
                "score": self.score}


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray,
                              folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """[n, classes present] probabilities, each row from a model fitted without that image.

    labels: 0..k-1, every one present; folds is lowered to the smallest class's size."""
    smallest = int(np.bincount(labels).min())
    splitter = StratifiedKFold(max(2, min(folds, smallest)), shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cross_val_predict(LogisticRegression(max_iter=MAX_ITERATIONS), features, labels,
                                 cv=splitter, method="predict_proba")


def baseline_issues(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """cleanlab's defaults (`find_label_issues`): the row the benchmark compares with."""
    return np.flatnonzero(find_label_issues(labels, probabilities))


def ranked_issues(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """The likely label errors, most likely first (this module's doc)."""
    count = int(find_label_issues(labels, probabilities, filter_by="both").sum())
    scores = get_label_quality_scores(labels, probabilities, method="self_confidence")
    return np.argsort(scores, kind="stable")[:count]


def find(features: np.ndarray, labels: np.ndarray, class_names: list[str]) -> list[LabelIssue]:
    """The likely label errors among the images (features [n, d], labels: class ids), most
    likely first; [] when fewer than two classes have two images each."""
    present = np.unique(labels)
    counts = np.bincount(labels, minlength=len(class_names))
    if len(present) < 2 or counts[present].min() < 2:
        return []
    # cleanlab and scikit-learn number the classes present 0..k-1.
    dense = np.searchsorted(present, labels)
    probabilities = out_of_fold_probabilities(features, dense)
    scores = get_label_quality_scores(dense, probabilities, method="self_confidence")
    return [LabelIssue(int(i), class_names[labels[i]],
                       class_names[present[int(np.argmax(probabilities[i]))]],
                       round(float(scores[i]), 4))
            for i in ranked_issues(dense, probabilities)]
