"""Validate one encoded image: format by signature, a pixel cap, then one full decode.

The full decode uses TensorFlow's own decoder, the one the transform graph uses in
training and serving, so an image that passes here is one Transform can decode. Its
pixels (a JPEG's at a reduced scale) are what the image's fingerprint is computed from,
so ingestion decodes every image once.
"""

from __future__ import annotations

import io
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
    try:
        if image_format == "jpeg":
            # libjpeg's scaled decode still entropy-decodes every block of the file (so
            # corrupt or truncated data fails as in a full decode) but skips most of the
            # inverse DCT: several times faster on photos. The size comes from the header.
            ratio = next((r for r in JPEG_SCALES if min(width, height) >= r * MIN_VALIDATION_SIDE),
                         1)
            pixels = tf.io.decode_jpeg(data, channels=0, ratio=ratio)
        else:
            pixels = tf.io.decode_image(data, channels=0, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise InvalidImage(
            f"corrupt or truncated {image_format}: {first_line(error.message)}"
        ) from None
    info = ImageInfo(image_format, height, width, int(pixels.shape[-1]), int(orientation or 1))
    return info, pixels.numpy()


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
