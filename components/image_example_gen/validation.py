"""Validate encoded images: format by signature, a pixel cap, then one full decode each.

The full decode uses TensorFlow's own decoder, the one the transform graph uses in
training and serving, so an image that passes here is one Transform can decode. Its
pixels (a JPEG's at a reduced scale) are what the image's fingerprint is computed from,
so ingestion decodes every image once.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

from components.common.tf_errors import first_line
from components.image_example_gen import jpeg_header
from components.image_example_gen.options import DEFAULT_MAX_PIXELS
from components.transform.preprocessing import JPEG_SCALES

# PIL only reads headers here; the pixel cap below is ours, so turn off PIL's own
# DecompressionBombError, which would otherwise fire before we can name the cap.
Image.MAX_IMAGE_PIXELS = None


MIN_VALIDATION_SIDE = 32  # the validation decode keeps at least this many pixels a side
EXIF_ORIENTATION = 0x0112

_SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


class InvalidImage(ValueError):
    """The bytes are not an image this pipeline accepts; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    """What validation found: the stored format, size and channel count."""

    format: str
    height: int
    width: int
    channels: int
    orientation: int = 1  # EXIF orientation (JPEG); 1 = stored upright


def sniff_format(data: bytes) -> str | None:
    """Returns jpeg/png/gif/bmp from the file signature, or None."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def inspect_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Validates encoded image bytes by decoding them once; raises InvalidImage with the reason."""
    return decode_for_validation(data, max_pixels)[0]


def decode_for_validation(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS
                          ) -> tuple[ImageInfo, np.ndarray]:
    """inspect_image, also returning the decoded pixels (uint8 [h, w, stored channels]).

    A JPEG is decoded at the largest DCT scale that keeps MIN_VALIDATION_SIDE pixels a
    side: the same validation as a full decode, at a fraction of the inverse DCT.
    """
    found = decode_all_for_validation([data], max_pixels)[0]
    if isinstance(found, InvalidImage):
        raise found
    return found


def decode_all_for_validation(encoded: Sequence[bytes], max_pixels: int = DEFAULT_MAX_PIXELS
                              ) -> list[tuple[ImageInfo, np.ndarray] | InvalidImage]:
    """decode_for_validation of each image, in order: (info, pixels), or the InvalidImage
    that says why it is rejected.

    The JPEGs are decoded in one TensorFlow graph call (_jpeg_decoder), each at its own
    DCT scale: the same kernel as one eager call per image, without each call's Python
    overhead (about 45 us, holding the GIL) and outside the GIL for the whole group, so
    the decodes of the group, and of the threads beside it, run side by side. (One call
    per scale instead cost about 2 calls a chunk of caltech101's photos, each with its
    input conversion under the GIL.) A group with one bad image fails as a whole and is
    decoded again one image at a time (eager, as a group of one is), so each image gets
    its own verdict and message.
    """
    results: list[tuple[ImageInfo, np.ndarray] | InvalidImage | None] = [None] * len(encoded)
    headers: dict[int, _Header] = {}
    jpegs: list[int] = []
    for index, data in enumerate(encoded):
        try:
            headers[index] = header = _checked_header(data, max_pixels)
        except InvalidImage as error:
            results[index] = error
            continue
        if header.format == "jpeg":
            jpegs.append(index)
        else:
            results[index] = _decoded_one(data, header)
    pixels = None  # one image alone is cheaper eager (a graph call costs about 1 ms)
    if len(jpegs) > 1:
        with contextlib.suppress(tf.errors.OpError):  # one is bad: each alone, below
            pixels = _decode_jpegs([encoded[index] for index in jpegs],
                                   [headers[index].jpeg_ratio for index in jpegs])
    for position, index in enumerate(jpegs):
        header = headers[index]
        results[index] = (_decoded_one(encoded[index], header) if pixels is None
                          else (header.info(pixels[position]), pixels[position]))
    return results


@dataclass(frozen=True)
class _Header:
    """What an image's header says, checked against the pixel cap."""

    format: str
    width: int
    height: int
    orientation: int

    @property
    def jpeg_ratio(self) -> int:
        """The largest DCT scale that keeps MIN_VALIDATION_SIDE pixels a side (1: none)."""
        return next((ratio for ratio in JPEG_SCALES
                     if min(self.width, self.height) >= ratio * MIN_VALIDATION_SIDE), 1)

    def info(self, pixels: np.ndarray) -> ImageInfo:
        return ImageInfo(self.format, self.height, self.width, int(pixels.shape[-1]),
                         int(self.orientation or 1))


def _checked_header(data: bytes, max_pixels: int) -> _Header:
    """The header of an image this pipeline may decode; InvalidImage when it may not."""
    if not data:
        raise InvalidImage("empty file (0 bytes)")
    image_format = sniff_format(data)
    if image_format is None:
        raise InvalidImage("not an image: the file signature is not JPEG, PNG, GIF or BMP")
    width, height, orientation = (jpeg_header.read(data) if image_format == "jpeg" else None) \
        or _header(data, image_format)
    if width <= 0 or height <= 0:
        raise InvalidImage(f"{image_format} declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise InvalidImage(
            f"too large: {width}x{height} = {width * height:,} pixels exceeds the cap of "
            f"{max_pixels:,} (not decoded)"
        )
    return _Header(image_format, width, height, orientation)


def _decoded_one(data: bytes, header: _Header) -> tuple[ImageInfo, np.ndarray] | InvalidImage:
    """One image decoded by itself (eager): (info, pixels), or why it is rejected."""
    try:
        if header.format == "jpeg":
            # libjpeg's scaled decode still entropy-decodes every block of the file (so
            # corrupt or truncated data fails as in a full decode) but skips most of the
            # inverse DCT: several times faster on photos. The size comes from the header.
            pixels = tf.io.decode_jpeg(data, channels=0, ratio=header.jpeg_ratio)
        else:
            pixels = tf.io.decode_image(data, channels=0, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        return InvalidImage(f"corrupt or truncated {header.format}: {first_line(error.message)}")
    except tf.errors.OpError as error:  # any other failure of the decoder: its own words
        return InvalidImage(error.message)
    pixels = pixels.numpy()
    return header.info(pixels), pixels


# Every DCT scale a validation decode may use (_Header.jpeg_ratio), a branch each of one graph
_RATIOS = (*JPEG_SCALES, 1)


def _decode_jpegs(encoded: list[bytes], ratios: list[int]) -> list[np.ndarray]:
    """JPEGs decoded in one graph call, each at its DCT scale (ratios, one each);
    tf.errors.OpError if any is bad."""
    branches = np.array([_RATIOS.index(ratio) for ratio in ratios], dtype=np.int32)
    flat, shapes = _jpeg_decoder()(tf.constant(encoded), tf.constant(branches))
    shapes = shapes.numpy()
    ends = np.cumsum(shapes.prod(axis=1))
    return [values.reshape(shape) for values, shape in
            zip(np.split(flat.numpy(), ends[:-1]), shapes, strict=True)]


@functools.cache
def _jpeg_decoder():
    """A graph that decodes a batch of JPEGs, each at the DCT scale _RATIOS[its branch],
    channels as stored: the pixels of all, flattened and concatenated, and each one's
    [h, w, c].

    A while loop, not tf.map_fn: the images differ in size, and the loop's iterations
    (parallel_iterations) run on TensorFlow's inter-op threads side by side. One graph
    with a branch per scale (the scale is an attribute of the decode op, not an input):
    tracing costs about 90 ms of the GIL per graph, one per scale was about 0.35 s of
    every run, one with all four branches about 0.13 s."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                  tf.TensorSpec([None], tf.int32)], autograph=False)
    def decode(contents, branches):
        count = tf.shape(contents)[0]

        def one(index, flat, shapes):
            pixels = tf.switch_case(branches[index], [
                functools.partial(tf.io.decode_jpeg, contents[index], channels=0, ratio=ratio)
                for ratio in _RATIOS])
            return (index + 1, flat.write(index, tf.reshape(pixels, [-1])),
                    shapes.write(index, tf.shape(pixels)))

        _, flat, shapes = tf.while_loop(
            lambda index, *_: index < count, one,
            (tf.constant(0), tf.TensorArray(tf.uint8, count, infer_shape=False,
                                            element_shape=[None]),
             tf.TensorArray(tf.int32, count, element_shape=[3])))
        return flat.concat(), shapes.stack()

    return decode


def _header(data: bytes, image_format: str) -> tuple[int, int, int]:
    """(width, height, EXIF orientation) as PIL reads them; InvalidImage when it cannot."""
    try:
        with Image.open(io.BytesIO(data)) as header:  # reads the header only
            orientation = header.getexif().get(EXIF_ORIENTATION, 1) if image_format == "jpeg" else 1
            return header.size[0], header.size[1], orientation
    except Exception as error:  # noqa: BLE001 - any PIL failure means an unreadable header
        raise InvalidImage(f"unreadable {image_format} header: {first_line(error)}") from None


def upright(data: bytes, info: ImageInfo) -> tuple[bytes, ImageInfo]:
    """A JPEG whose EXIF orientation says "rotate" re-encoded upright; others unchanged.

    TensorFlow's decoders (training and TF Serving alike) ignore EXIF, so a phone photo
    stored sideways would train sideways. Re-encoding (quality 95, no EXIF) costs a little
    fidelity on these files only; clients must send upright images too (`visionpipe
    predict` does).
    """
    if info.orientation in (0, 1):
        return data, info
    fixed = upright_jpeg(data)
    height, width = (info.width, info.height) if info.orientation >= 5 else (info.height, info.width)
    return fixed, ImageInfo(info.format, height, width, info.channels, 1)


def upright_jpeg(data: bytes) -> bytes:
    """JPEG bytes with their EXIF orientation applied (re-encoded, quality 95); others as given."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format != "JPEG" or image.getexif().get(EXIF_ORIENTATION, 1) in (0, 1):
            return data
        buffer = io.BytesIO()
        ImageOps.exif_transpose(image).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()
