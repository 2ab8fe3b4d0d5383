"""Every image's identity, from the pixels validation decoded: an exact hash and a perceptual one.

- sha256 of the encoded bytes: byte-identical copies;
- a 64-bit perceptual hash (the DCT "pHash": the signs of the 8 x 8 lowest frequencies
  of the 32 x 32 grey picture against their median) and a 16 x 16 colour thumbnail, both
  of the picture upright (EXIF orientation applied): near-copies, found and confirmed
  by duplicates.py.
Computed from the validation decode (a JPEG's at a reduced scale): no second decode.

The pHash is imagehash.phash's algorithm, written here with NumPy and a precomputed DCT
basis: imagehash (PIL's Lanczos resize, SciPy's DCT) costs a large share of a photo's
validation decode, and the fingerprint rides on the ExampleGen's hot path. One area resize
of the upright picture to 32 x 32 RGB (per image, OpenCV) feeds both hashes: its grey is the
pHash's picture, its 2 x 2 means the thumbnail. The hashes of a chunk of pictures are
computed as arrays, a few calls for the whole chunk (OpenCV on the pictures stacked into
one, NumPy for the DCT): per image, small calls cost more in the interpreter, holding the
GIL, than in arithmetic. They agree with imagehash within a few of the 64 bits
(tests/test_duplicates.py checks the agreement).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import cv2
import numpy as np

# OpenCV on one thread. Callers already fingerprint many images at once (a pool thread
# each), and the pictures are tiny (a JPEG's reduced-scale decode): OpenCV's own pool split
# each resize across the cores, and its workers then spun between calls, taking CPU from
# the decodes beside them. The count is the process's: under the local runner the
# Trainer's augmentation (one warpAffine per image) runs on one thread too, which measured
# as fast either way.
cv2.setNumThreads(1)

HASH_SIDE = 32  # the picture both hashes come from: its grey for the DCT, its 2 x 2 means
HASH_FREQUENCIES = 8  # 8 x 8 lowest frequencies: 64 bits
THUMBNAIL_SIDE = HASH_SIDE // 2  # 16: the thumbnail is the picture's 2 x 2 means
THUMBNAIL_VALUES = THUMBNAIL_SIDE * THUMBNAIL_SIDE * 3  # RGB bytes per thumbnail
_K = np.arange(HASH_SIDE)
_HALF = HASH_FREQUENCIES * HASH_FREQUENCIES // 2
# DCT-II basis, the rows of the lowest frequencies: low = B @ picture @ B.T
_BASIS = np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:HASH_FREQUENCIES, None] / (2 * HASH_SIDE)
                ).astype(np.float32)
# EXIF orientation -> the numpy view that makes the stored pixels upright (PIL's transposes).
_ORIENTATION = {2: lambda p: p[:, ::-1], 3: lambda p: p[::-1, ::-1], 4: lambda p: p[::-1],
                5: lambda p: p.transpose(1, 0, 2), 6: lambda p: p.transpose(1, 0, 2)[:, ::-1],
                7: lambda p: p.transpose(1, 0, 2)[::-1, ::-1],
                8: lambda p: p.transpose(1, 0, 2)[::-1]}


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """An image's exact and perceptual identity."""

    sha256: str  # hex digest of the encoded bytes
    phash: int  # 64-bit perceptual hash, as an unsigned integer
    thumbnail: bytes  # THUMBNAIL_SIDE x THUMBNAIL_SIDE RGB pixels, row by row


def upright_rgb(pixels: np.ndarray, orientation: int = 1) -> np.ndarray:
    """uint8 [h, w, 1-4 channels] -> upright uint8 RGB (alpha dropped, grey repeated)."""
    rgb = pixels[..., :3] if pixels.shape[-1] >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    turn = _ORIENTATION.get(orientation)
    return np.ascontiguousarray(turn(rgb) if turn else rgb)


def hash_picture(rgb: np.ndarray) -> np.ndarray:
    """The HASH_SIDE x HASH_SIDE RGB picture of an upright RGB picture (INTER_AREA): what the
    hashes, and the image measures (image_measures.py), are computed from."""
    return cv2.resize(rgb, (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA)


def _stacked(pictures: np.ndarray) -> np.ndarray:
    """[n, HASH_SIDE, HASH_SIDE, 3] -> one [n * HASH_SIDE, HASH_SIDE, 3] picture: OpenCV's
    per-pixel and 2 x 2 steps give on it what they give on each picture, in one call."""
    return pictures.reshape(-1, HASH_SIDE, 3)


def grey(pictures: np.ndarray) -> np.ndarray:
    """[n, HASH_SIDE, HASH_SIDE, 3] uint8 RGB -> [n, HASH_SIDE, HASH_SIDE] uint8 grey
    (cv2.COLOR_RGB2GRAY)."""
    return cv2.cvtColor(_stacked(pictures), cv2.COLOR_RGB2GRAY).reshape(pictures.shape[:3])


def perceptual_hashes(pictures: np.ndarray) -> list[int]:
    """The 64-bit DCT perceptual hashes of [n, HASH_SIDE, HASH_SIDE, 3] RGB pictures, as
    unsigned integers."""
    low = (_BASIS @ grey(pictures).astype(np.float32) @ _BASIS.T).reshape(len(pictures), -1)
    ranked = np.sort(low, axis=1)
    middle = (ranked[:, _HALF - 1] + ranked[:, _HALF]) / 2
    bits = np.packbits(low > middle[:, None], axis=1)  # [n, 8] bytes, most significant first
    return [int(value) for value in bits.view(">u8").ravel()]


def thumbnails(pictures: np.ndarray) -> np.ndarray:
    """[n, HASH_SIDE, HASH_SIDE, 3] -> [n, THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3]: the 2 x 2 means
    (INTER_AREA; a block never straddles two stacked pictures, HASH_SIDE being even)."""
    count = len(pictures)
    small = cv2.resize(_stacked(pictures), (THUMBNAIL_SIDE, count * THUMBNAIL_SIDE),
                       interpolation=cv2.INTER_AREA)
    return small.reshape(count, THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3)


def fingerprints_of(encoded: Sequence[bytes], pictures: np.ndarray) -> list[Fingerprint]:
    """The fingerprints of encoded images whose hash pictures (hash_picture) are pictures,
    [n, HASH_SIDE, HASH_SIDE, 3]."""
    return [Fingerprint(hashlib.sha256(data).hexdigest(), phash, thumbnail.tobytes())
            for data, phash, thumbnail in zip(encoded, perceptual_hashes(pictures),
                                              thumbnails(pictures), strict=True)]


def fingerprint(data: bytes, pixels: np.ndarray, orientation: int = 1) -> Fingerprint:
    """The fingerprint of encoded bytes whose validation decode gave pixels."""
    picture = hash_picture(upright_rgb(pixels, orientation))
    return fingerprints_of([data], picture[None])[0]
