"""The ExampleGen's hot path, made fast, computes what the plain code does.

A chunk's fingerprints and measures, computed as arrays, are what OpenCV gives picture by
picture: the reference below is the per-picture code the ExampleGen ran before it batched
them (one cvtColor, resize, calcHist, meanStdDev, Laplacian ... per picture), on pictures
of every kind the measures flag (smooth, noisy, constant, grey, dark, washed out). The
Example with hand-encoded measure features is the one the protobuf API builds. A chunk's
validation decode (its JPEGs in one graph call, each at its DCT scale) gives each image the pixels
and the verdict of one eager decode of it alone."""

import hashlib
import io
import math

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.common import features
from components.image_example_gen import fingerprints, image_measures
from components.image_example_gen.example_encoding import serialized_example
from components.image_example_gen.image_measures import Measures
from components.image_example_gen.validation import (
    MIN_VALIDATION_SIDE,
    ImageInfo,
    InvalidImage,
    decode_all_for_validation,
)
from components.transform.preprocessing import JPEG_SCALES


def _pictures(count=320) -> np.ndarray:
    rng = np.random.default_rng(7)
    pictures = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    eighth = count // 8
    smooth = pictures[:2 * eighth].reshape(-1, 32, 3)
    pictures[:2 * eighth] = cv2.GaussianBlur(smooth, (7, 7), 3).reshape(-1, 32, 32, 3)
    pictures[2 * eighth:3 * eighth] = rng.integers(0, 256, (eighth, 1, 1, 3))  # constant
    pictures[3 * eighth:4 * eighth] = pictures[3 * eighth:4 * eighth, ..., :1]  # grey
    pictures[4 * eighth:5 * eighth] //= 5  # dark
    pictures[5 * eighth:6 * eighth] = 205 + pictures[5 * eighth:6 * eighth] // 5  # washed out
    return pictures


def _opencv_measures(small, height, width, model_side) -> Measures:
    """The per-picture measures, as OpenCV computes them (the code before the arrays)."""
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    counts = np.cumsum(cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel())
    darkest = np.searchsorted(counts, 0.01 * grey.size) / 255.0
    brightest = np.searchsorted(counts, 0.99 * grey.size) / 255.0
    grey_mean, grey_std = (float(v[0, 0]) for v in cv2.meanStdDev(grey))
    edges_std = float(cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))[1][0, 0])
    sharpness = edges_std ** 2 / (grey_std ** 2 + 1e-6 * 255.0 ** 2)
    contrast = float(cv2.meanStdDev(small)[1].max()) / 255.0
    red, green, blue = cv2.split(small)
    chroma = cv2.mean(cv2.absdiff(red, green))[0] + cv2.mean(cv2.absdiff(green, blue))[0]
    short, long = min(height, width), max(height, width)
    flags = {
        "dark": brightest < image_measures.DARK_BELOW,
        "overexposed": darkest > image_measures.OVEREXPOSED_ABOVE,
        "blurry": sharpness < image_measures.BLURRY_BELOW
        and contrast >= image_measures.LOW_INFORMATION_BELOW,
        "low_information": contrast < image_measures.LOW_INFORMATION_BELOW,
        "odd_aspect": long > image_measures.ODD_ASPECT_ABOVE * short,
        "tiny": short < image_measures.TINY_BELOW * model_side,
        "grayscale": chroma < image_measures.GREY_CHROMA_BELOW,
    }
    return Measures(round(grey_mean / 255.0, 4), round(contrast, 4), round(sharpness, 4),
                    round(width / height, 4), round(math.log2(short), 4),
                    tuple(kind for kind in image_measures.KINDS if flags[kind]))


def _opencv_phash(small) -> int:
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    low = (fingerprints._BASIS @ grey @ fingerprints._BASIS.T).ravel()  # noqa: SLF001
    middle = np.median(low)
    return int.from_bytes(np.packbits(low > middle).tobytes(), "big")


def test_a_chunks_measures_are_opencvs_picture_by_picture():
    pictures = _pictures()
    rng = np.random.default_rng(3)
    sizes = [(int(h), int(w)) for h, w in rng.integers(20, 900, (len(pictures), 2))]
    found = image_measures.measure_all(pictures, sizes, model_side=150)
    expected = [_opencv_measures(p, h, w, 150) for p, (h, w) in zip(pictures, sizes, strict=True)]
    assert found == expected
    # every kind the measures flag occurs in this set, so each flag's arithmetic is compared
    assert {kind for measures in found for kind in measures.issues} >= {
        "dark", "overexposed", "low_information", "odd_aspect", "tiny", "grayscale"}
    assert image_measures.measure(pictures[5], *sizes[5], 150) == expected[5]


@pytest.mark.parametrize("count", [1, 32])
def test_a_chunks_fingerprints_are_opencvs_picture_by_picture(count):
    pictures = _pictures()[::10][:count]
    encoded = [picture.tobytes() for picture in pictures]
    found = fingerprints.fingerprints_of(encoded, pictures)
    assert [f.sha256 for f in found] == [hashlib.sha256(data).hexdigest() for data in encoded]
    assert [f.phash for f in found] == [_opencv_phash(p) for p in pictures]
    assert [f.thumbnail for f in found] == [
        cv2.resize(p, (16, 16), interpolation=cv2.INTER_AREA).tobytes() for p in pictures]


def test_the_encoded_example_is_the_one_the_protobuf_api_builds():
    """The hand-encoded measure features join the rest into the Example the API would build,
    which TensorFlow's own parser reads (tf.io.parse_single_example, as Transform does)."""
    info = ImageInfo("jpeg", 480, 640, 3)
    pictures = _pictures(32)
    measures = image_measures.measure_all(pictures, [(480, 640)] * 32)[7]
    data = bytes(range(256)) * 700  # long enough for a multi-byte length
    built = tf.train.Example()
    feature = built.features.feature
    for key, value in ((features.IMAGE_BYTES, data), (features.LABEL_NAME, b"cat"),
                       (features.RELATIVE_PATH, "train/cat/é 1.jpg".encode()),
                       (features.FORMAT, b"jpeg")):
        feature[key].bytes_list.value.append(value)
    for key, value in ((features.LABEL, 3), (features.HEIGHT, 480), (features.WIDTH, 640),
                       (features.CHANNELS, 3)):
        feature[key].int64_list.value.append(value)
    for key in features.MEASURE_FEATURES:
        feature[key].float_list.value.append(getattr(measures, key))
    encoded = serialized_example("train/cat/é 1.jpg", "cat", 3, data, info, measures)
    assert tf.train.Example.FromString(encoded) == built
    parsed = tf.io.parse_single_example(encoded, {
        key: tf.io.FixedLenFeature([], tf.float32) for key in features.MEASURE_FEATURES})
    assert [float(parsed[key]) for key in features.MEASURE_FEATURES] == [
        float(np.float32(getattr(measures, key))) for key in features.MEASURE_FEATURES]
    unmeasured = tf.train.Example.FromString(serialized_example(
        "a.jpg", "cat", 3, data, info, image_measures.NOT_MEASURED))
    assert not set(features.MEASURE_FEATURES) & set(unmeasured.features.feature)


def _encoded(size, mode="RGB", image_format="JPEG", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(cv2.GaussianBlur(pixels, (9, 9), 4)).convert(mode).save(buffer, image_format)
    return buffer.getvalue()


@pytest.mark.parametrize("with_bad_files", [False, True])
def test_a_chunks_validation_decode_is_each_images_eager_decode_alone(with_bad_files):
    # JPEGs at every DCT scale (two of each) in one graph call, grey and CMYK, a PNG; and
    # with bad files inside the chunk (a truncated JPEG beside good ones of its scale), the
    # call fails and each image is decoded alone: both give each its own verdict.
    good = [_encoded(size, seed=i) for i, size in enumerate(
        [(40, 30), (45, 33), (80, 70), (90, 64), (150, 130), (140, 200), (300, 260), (400, 290)])]
    chunk = [*good, _encoded((120, 90), "L"), _encoded((100, 100), "CMYK"),
             _encoded((64, 48), image_format="PNG")]
    bad = [good[6][:len(good[6]) // 2], b"", b"not an image", good[4][:-300]]
    chunk += bad if with_bad_files else []
    found = decode_all_for_validation(chunk)
    for data, result in zip(chunk, found, strict=True):
        alone = decode_all_for_validation([data])[0]  # a group of one: eager
        if isinstance(alone, InvalidImage):
            assert isinstance(result, InvalidImage) and str(result) == str(alone)
            continue
        (info, pixels), (alone_info, alone_pixels) = result, alone
        assert info == alone_info and np.array_equal(pixels, alone_pixels)
        if info.format == "jpeg":  # and what TensorFlow's eager decoder gives at that scale
            ratio = next((r for r in JPEG_SCALES
                          if min(info.height, info.width) >= r * MIN_VALIDATION_SIDE), 1)
            assert np.array_equal(pixels, tf.io.decode_jpeg(data, channels=0, ratio=ratio))
    verdicts = [isinstance(result, InvalidImage) for result in found]
    assert verdicts == [False] * 11 + [True] * len(bad) * with_bad_files
