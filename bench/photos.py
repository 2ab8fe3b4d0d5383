"""Generated photo-sized JPEGs for the benchmarks that need many images: a light module, so
the processes that draw them in parallel import only NumPy and Pillow."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from pipeline.data_tools.demo import draw_shape, encode

PHOTO_SIZE = (500, 375)  # the Kaggle cats-vs-dogs photos' size, where decoding costs more
CHUNK = 1000  # images per task, each chunk with a seed of its own


def _write_chunk(root: Path, start: int, stop: int) -> None:
    rng = np.random.default_rng([0, start])
    for i in range(start, stop):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.jpg").write_bytes(encode(draw_shape("circle", rng, PHOTO_SIZE), "JPEG"))


def photo_sized(root: Path, count: int = 3000) -> Path:
    """count 500x375 JPEGs of two classes under root, drawn on every core (about 33 ms each
    on one): deterministic for a given count."""
    starts = range(0, count, CHUNK)
    with ProcessPoolExecutor(max_workers=os.cpu_count(),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_write_chunk, [root] * len(starts), starts,
                      [min(start + CHUNK, count) for start in starts]))
    return root
