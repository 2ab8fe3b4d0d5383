"""What makes a picture unusable or odd, measured from the pixels validation already decoded.

No second decode and no second resize: the measures come from the 32 x 32 picture the
fingerprint is computed from (fingerprints.hash_picture: the validation decode, upright,
area-resized), and from the header's size: at that size, and a chunk's pictures at once
(measure_all), they cost a small share of the decode (BENCHMARKS.md).
Thresholds were set on the 9,144 real photographs of Caltech-101
(`../shared/data/caltech101`; docs/data.md shows what each flags there):

- dark: the brightest 1 % of the picture below DARK_BELOW of white (underexposed as a
  whole; a lit object on a black background is not dark);
- overexposed: the darkest 1 % above OVEREXPOSED_ABOVE of white (washed out);
- blurry: the variance of the Laplacian over the variance of the picture (so contrast does
  not count) below BLURRY_BELOW, at 32 x 32: catches a picture blurred as a whole (a
  Gaussian of 4 % of its short side, seven in ten), not slight softness;
- low_information: every colour channel varies by less than LOW_INFORMATION_BELOW
  (standard deviation over the range): a near-constant picture;
- odd_aspect: the long side more than ODD_ASPECT_ABOVE times the short one (a square
  resize squashes it that much);
- tiny: the short side below TINY_BELOW of the model's input side (upscaled more than 2x);
- grayscale: one channel, or three channels that differ by less than GREY_CHROMA_BELOW
  levels (of 255) on average; reported only in a colour data set (ImageIssues).

Five measures are also features of every Example (features.MEASURE_FEATURES), so
StatisticsGen sees images as numbers and a darker, smaller or blurrier span drifts
(docs/data.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from components.common.features import MEASURE_FEATURES
from components.image_example_gen import fingerprints

DARK_BELOW = 0.25
OVEREXPOSED_ABOVE = 0.8
BLURRY_BELOW = 0.15
LOW_INFORMATION_BELOW = 0.03
ODD_ASPECT_ABOVE = 3.0
TINY_BELOW = 0.5
GREY_CHROMA_BELOW = 2.0
TINY_FLOOR = 32  # the short side below which a picture is tiny when the model's is unknown
_EPSILON = 1e-6

KINDS = ("dark", "overexposed", "blurry", "low_information", "odd_aspect", "tiny", "grayscale")


class Measures(NamedTuple):
    """One picture's measures (luminance in [0, 1]) and the kinds of issue they show.

    A named tuple, not a dataclass: every image's record carries one between the
    ExampleGen's passes, and a tuple is built and pickled in a fraction of the time."""

    brightness: float  # mean luminance
    contrast: float  # the largest colour channel's standard deviation
    sharpness: float  # var(Laplacian) / var(luminance) of the 32 x 32 picture
    aspect_ratio: float  # width / height
    short_side_log2: float  # log2 of the short side's pixels
    issues: tuple[str, ...]  # of KINDS, in their order
    measured: bool = True  # False: NOT_MEASURED

    def features(self) -> dict[str, float]:
        """The Example features (MEASURE_FEATURES) of these measures (none when not measured)."""
        return {name: getattr(self, name) for name in MEASURE_FEATURES} if self.measured else {}


# What an image carries when the ExampleGen measures none (IngestOptions.image_measures, the
# benchmarks' switch): no features, no issues.
NOT_MEASURED = Measures(0.0, 0.0, 0.0, 0.0, 0.0, (), measured=False)


def measure_all(pictures: np.ndarray, sizes: Sequence[tuple[int, int]],
                model_side: int = 0) -> list[Measures]:
    """The measures of pictures, [n, 32, 32, 3] upright uint8 RGB hash pictures, whose files
    are sizes (height, width) each; model_side: the model's input short side (0: unknown).

    A chunk's pictures are measured as arrays, a few calls for all of them: per picture,
    a dozen OpenCV calls cost more in the interpreter (holding the GIL) than in arithmetic,
    on the ExampleGen's hot path. The figures are OpenCV's (meanStdDev's moments from exact
    sums, the Laplacian's reflected border, a histogram's percentiles), to the rounding
    kept (tests/test_data_problems.py checks)."""
    count = len(pictures)
    if not count:
        return []
    grey = fingerprints.grey(pictures).reshape(count, -1)
    ranked = np.sort(grey, axis=1, kind="stable")  # a radix sort for 8-bit values
    darkest = ranked[:, _rank(0.01, grey.shape[1])] / 255.0  # the 1st percentile
    brightest = ranked[:, _rank(0.99, grey.shape[1])] / 255.0  # the 99th
    grey_mean, grey_var = _moments(grey)
    edges = _laplacian(grey.reshape(pictures.shape[:3]).astype(np.int16))
    _, edges_var = _moments(edges.reshape(count, -1))
    sharpness = edges_var / (grey_var + _EPSILON * 255.0 ** 2)
    channels = np.ascontiguousarray(pictures.reshape(count, -1, 3).transpose(0, 2, 1))
    _, channel_var = _moments(channels)
    contrast = np.sqrt(channel_var).max(axis=1) / 255.0
    wide = channels.astype(np.int16)
    chroma = (np.abs(wide[:, 0] - wide[:, 1]).mean(axis=1)
              + np.abs(wide[:, 1] - wide[:, 2]).mean(axis=1))
    heights, widths = np.array(sizes, dtype=np.float64).reshape(count, 2).T
    short, long = np.minimum(heights, widths), np.maximum(heights, widths)
    flags = np.stack([  # in the order of KINDS
        brightest < DARK_BELOW,
        darkest > OVEREXPOSED_ABOVE,
        # a near-constant picture has no edges to be sharp or blurred: low information only
        (sharpness < BLURRY_BELOW) & (contrast >= LOW_INFORMATION_BELOW),
        contrast < LOW_INFORMATION_BELOW,
        long > ODD_ASPECT_ABOVE * short,
        short < (TINY_BELOW * model_side if model_side else TINY_FLOOR),
        chroma < GREY_CHROMA_BELOW,
    ], axis=1).tolist()
    return [Measures(round(mean / 255.0, 4), round(spread, 4), round(sharp, 4),
                     round(width / height, 4), round(math.log2(min(height, width)), 4),
                     tuple(kind for kind, flagged in zip(KINDS, row, strict=True) if flagged))
            for mean, spread, sharp, (height, width), row in zip(
                grey_mean.tolist(), contrast.tolist(), sharpness.tolist(), sizes, flags,
                strict=True)]


def measure(picture: np.ndarray, height: int, width: int, model_side: int = 0) -> Measures:
    """The measures of one picture (measure_all of one)."""
    return measure_all(picture[None], [(height, width)], model_side)[0]


def _rank(quantile: float, size: int) -> int:
    """The index in the sorted values of the smallest value with at least quantile * size
    values at or below it (a cumulative histogram's searchsorted)."""
    return math.ceil(quantile * size) - 1


def _moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) variance over the last axis of integer values, as
    cv2.meanStdDev computes them (the sums are exact in float64 at these sizes)."""
    size = values.shape[-1]
    wide = values.astype(np.float64)
    mean = wide.sum(axis=-1) / size
    squares = np.einsum("...i,...i->...", wide, wide)
    return mean, np.maximum(squares / size - mean * mean, 0.0)


def _laplacian(grey: np.ndarray) -> np.ndarray:
    """[n, h, w] -> the 4-neighbour Laplacian of each picture, its border reflected
    (cv2.Laplacian, ksize 1, BORDER_REFLECT_101)."""
    padded = np.pad(grey, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    return (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2]
            + padded[:, 1:-1, 2:] - 4 * grey)
