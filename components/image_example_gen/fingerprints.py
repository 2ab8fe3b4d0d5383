"""Every image's identity, from the pixels validation decoded: an exact hash and a perceptual one.

- sha256 of the encoded bytes: byte-identical copies;
- a 64-bit perceptual hash (imagehash's DCT pHash of the grey picture) and a 16 x 16 colour
  thumbnail, both of the picture upright (EXIF orientation applied): near-copies, found
  and confirmed by duplicates.py.
Computed from the validation decode (a JPEG's at a reduced scale): no second decode.
"""

from __future__ import annotations

import dataclasses
import hashlib

import imagehash
import numpy as np
from PIL import Image

THUMBNAIL_SIDE = 16
# PIL's EXIF-orientation transposes (as ImageOps.exif_transpose applies them).
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """An image's exact and perceptual identity."""

    sha256: str  # hex digest of the encoded bytes
    phash: int  # 64-bit perceptual hash, as an unsigned integer
    thumbnail: bytes  # THUMBNAIL_SIDE x THUMBNAIL_SIDE RGB pixels, row by row


def upright_picture(pixels: np.ndarray, orientation: int = 1) -> Image.Image:
    """uint8 [h, w, 1-4 channels] -> an upright RGB PIL image (alpha dropped, grey repeated)."""
    channels = pixels.shape[-1]
    if channels in (1, 2):
        picture = Image.fromarray(np.ascontiguousarray(pixels[..., 0]), "L").convert("RGB")
    else:
        picture = Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB")
    method = _ORIENTATION.get(orientation)
    return picture.transpose(method) if method is not None else picture


def fingerprint(data: bytes, pixels: np.ndarray, orientation: int = 1) -> Fingerprint:
    """The fingerprint of encoded bytes whose validation decode gave pixels."""
    picture = upright_picture(pixels, orientation)
    bits = imagehash.phash(picture.convert("L")).hash.flatten()  # 8 x 8 DCT signs vs median
    thumbnail = picture.resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BILINEAR)
    return Fingerprint(hashlib.sha256(data).hexdigest(),
                       int.from_bytes(np.packbits(bits).tobytes(), "big"),
                       thumbnail.tobytes())
