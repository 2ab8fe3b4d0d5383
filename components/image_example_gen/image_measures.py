"""What makes a picture unusable or odd, measured from the pixels validation already decoded.

No second decode and no second resize: the measures come from the 32 x 32 picture the
fingerprint is computed from (fingerprints.hash_picture: the validation decode, upright,
area-resized), and from the header's size. At that size they cost a tenth of the decode
(measured at 48 px on the short side, they cost as much as the decode; BENCHMARKS.md).
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

import dataclasses
import math

import cv2
import numpy as np

from components.common.features import MEASURE_FEATURES

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


@dataclasses.dataclass(frozen=True)
class Measures:
    """One picture's measures (luminance in [0, 1]) and the kinds of issue they show."""

    brightness: float  # mean luminance
    contrast: float  # the largest colour channel's standard deviation
    sharpness: float  # var(Laplacian) / var(luminance) at MEASURE_SIDE
    aspect_ratio: float  # width / height
    short_side_log2: float  # log2 of the short side's pixels
    issues: tuple[str, ...]  # of KINDS, in their order

    def features(self) -> dict[str, float]:
        """The Example features (MEASURE_FEATURES) of these measures."""
        return {name: getattr(self, name) for name in MEASURE_FEATURES}


def measure(small: np.ndarray, height: int, width: int, model_side: int = 0) -> Measures:
    """The measures of a picture: small, its hash picture (32 x 32 upright uint8 RGB), and
    its file's height x width; model_side: the model's input short side (0: unknown).

    OpenCV on the uint8 picture throughout (a histogram for the percentiles, meanStdDev for
    the moments): NumPy's float percentile and standard deviations cost several times more,
    on the ExampleGen's hot path."""
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    counts = np.cumsum(cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel())
    darkest = np.searchsorted(counts, 0.01 * grey.size) / 255.0  # the 1st percentile
    brightest = np.searchsorted(counts, 0.99 * grey.size) / 255.0  # the 99th
    grey_mean, grey_std = (float(v[0, 0]) for v in cv2.meanStdDev(grey))
    edges_std = float(cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))[1][0, 0])
    sharpness = edges_std ** 2 / (grey_std ** 2 + _EPSILON * 255.0 ** 2)
    contrast = float(cv2.meanStdDev(small)[1].max()) / 255.0
    red, green, blue = cv2.split(small)
    chroma = cv2.mean(cv2.absdiff(red, green))[0] + cv2.mean(cv2.absdiff(green, blue))[0]
    short, long = min(height, width), max(height, width)
    tiny_below = TINY_BELOW * model_side if model_side else TINY_FLOOR
    flags = {
        "dark": brightest < DARK_BELOW,
        "overexposed": darkest > OVEREXPOSED_ABOVE,
        # a near-constant picture has no edges to be sharp or blurred: low information only
        "blurry": sharpness < BLURRY_BELOW and contrast >= LOW_INFORMATION_BELOW,
        "low_information": contrast < LOW_INFORMATION_BELOW,
        "odd_aspect": long > ODD_ASPECT_ABOVE * short,
        "tiny": short < tiny_below,
        "grayscale": chroma < GREY_CHROMA_BELOW,
    }
    return Measures(round(grey_mean / 255.0, 4), round(contrast, 4), round(sharpness, 4),
                    round(width / height, 4), round(math.log2(short), 4),
                    tuple(kind for kind in KINDS if flags[kind]))
