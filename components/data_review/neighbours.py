"""Outliers and near-copies in the feature space: each image's nearest neighbours by cosine.

- Outliers: images far from every class, by their mean cosine distance to their
  OUTLIER_NEIGHBOURS nearest neighbours (whatever their labels). Reported: those at least
  OUTLIER_SPREAD robust standard deviations (1.4826 x the median absolute deviation) above
  the median distance, at most OUTLIER_SHARE of the images, farthest first. On Caltech-101
  the farthest are its web-clutter class and clip art (docs/data.md).
- Near-copies the perceptual hash cannot see: pairs whose features are at least
  NEAR_COPY_SIMILARITY alike. Set on Caltech-101's real photographs, where pairs from 0.93
  up are the same scene re-framed, re-cropped or re-shot (a motorbike photographed twice, a
  turtle cropped two ways, the same person in one session); below it, different scenes of
  one class begin. A tight crop (Caltech's Faces_easy of its Faces) changes pooled features
  more than that: most such pairs are not found (docs/data.md says how many).

Written by hand (a chunked matrix product and a partial sort), not with a nearest-neighbour
library: exact, in memory chunks of NEIGHBOUR_CHUNK rows, a few seconds for 10,000 images.
"""

from __future__ import annotations

import dataclasses

import numpy as np

OUTLIER_NEIGHBOURS = 10
OUTLIER_SPREAD = 2.0
OUTLIER_SHARE = 0.01
NEAR_COPY_SIMILARITY = 0.93
NEIGHBOUR_CHUNK = 512
_MAD_TO_SD = 1.4826  # a normal distribution's standard deviation per median absolute deviation


@dataclasses.dataclass(frozen=True)
class Neighbours:
    """Each image's nearest other images: indices [n, k] and cosine similarities [n, k],
    nearest first."""

    indices: np.ndarray
    similarities: np.ndarray


def unit_rows(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


def nearest(features: np.ndarray, k: int = OUTLIER_NEIGHBOURS) -> Neighbours:
    """The k nearest other images of every image by cosine similarity."""
    unit = unit_rows(features)
    n = len(unit)
    k = max(0, min(k, n - 1))
    indices = np.zeros((n, k), np.int64)
    similarities = np.zeros((n, k), np.float32)
    for start in range(0, n, NEIGHBOUR_CHUNK):
        block = unit[start:start + NEIGHBOUR_CHUNK] @ unit.T
        rows = np.arange(len(block))
        block[rows, start + rows] = -np.inf  # not its own neighbour
        if k == 0:
            continue
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1)
        indices[start:start + len(block)] = np.take_along_axis(top, order, axis=1)
        similarities[start:start + len(block)] = np.take_along_axis(
            block, indices[start:start + len(block)], axis=1)
    return Neighbours(indices, similarities)


def outliers(found: Neighbours) -> list[tuple[int, float, float]]:
    """(index, mean distance to its neighbours, robust z-score) of the outliers, farthest
    first (the module's doc)."""
    if found.similarities.shape[1] == 0:
        return []
    distance = 1.0 - found.similarities.mean(axis=1)
    median = float(np.median(distance))
    spread = _MAD_TO_SD * float(np.median(np.abs(distance - median)))
    if spread <= 0:
        return []
    z = (distance - median) / spread
    farthest = np.argsort(-z, kind="stable")[:int(OUTLIER_SHARE * len(z))]
    return [(int(i), round(float(distance[i]), 4), round(float(z[i]), 2))
            for i in farthest if z[i] >= OUTLIER_SPREAD]


def near_copies(found: Neighbours) -> list[tuple[int, int, float]]:
    """(i, j, similarity) with i < j for every pair at least NEAR_COPY_SIMILARITY alike
    among each image's neighbours, most alike first."""
    pairs = {}
    rows, columns = np.nonzero(found.similarities >= NEAR_COPY_SIMILARITY)
    for row, column in zip(rows, columns, strict=True):
        other = int(found.indices[row, column])
        pair = (min(int(row), other), max(int(row), other))
        pairs[pair] = round(float(found.similarities[row, column]), 4)
    return sorted(((i, j, s) for (i, j), s in pairs.items()), key=lambda p: (-p[2], p[0], p[1]))
