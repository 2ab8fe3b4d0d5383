"""Every image's identity, from the pixels validation decoded: an exact hash and a perceptual one.

- sha256 of the encoded bytes: byte-identical copies;
- a 64-bit perceptual hash (the DCT "pHash": the signs of the 8 x 8 lowest frequencies
  of the 32 x 32 grey picture against their median) and a 16 x 16 colour thumbnail, both
  of the picture upright (EXIF orientation applied): near-copies, found and confirmed
  by duplicates.py.
Computed from the validation decode (a JPEG's at a reduced scale): no second decode.

The pHash is imagehash.phash's algorithm, written here with OpenCV and a precomputed DCT
basis: imagehash (PIL's Lanczos resize, SciPy's DCT) costs a large share of a photo's
validation decode, and the fingerprint rides on the ExampleGen's hot path. One area resize
of the upright picture to 32 x 32 RGB feeds both hashes: its grey is the pHash's picture,
its 2 x 2 means the thumbnail (one pass over the decoded pixels instead of three). It
agrees with imagehash within a few of the 64 bits (tests/test_duplicates.py checks the
agreement); its cost is in BENCHMARKS.md ("The duplicate search's cost in time").
"""

from __future__ import annotations

import dataclasses
import hashlib

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


def perceptual_hash(small: np.ndarray) -> int:
    """The 64-bit DCT perceptual hash of a HASH_SIDE x HASH_SIDE RGB picture, as an
    unsigned integer."""
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    low = (_BASIS @ grey.astype(np.float32) @ _BASIS.T).ravel()
    # The median of the 64 values: a sort of 64 takes a quarter of np.partition's time.
    ranked = np.sort(low)
    middle = (ranked[_HALF - 1] + ranked[_HALF]) / 2
    return int.from_bytes(np.packbits(low > middle).tobytes(), "big")


def hash_picture(rgb: np.ndarray) -> np.ndarray:
    """The HASH_SIDE x HASH_SIDE RGB picture of an upright RGB picture (INTER_AREA): what the
    hashes, and the image measures (image_measures.py), are computed from."""
    return cv2.resize(rgb, (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA)


def fingerprint_of(data: bytes, small: np.ndarray) -> Fingerprint:
    """The fingerprint of encoded bytes whose hash picture (hash_picture) is small."""
    thumbnail = cv2.resize(small, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA)
    return Fingerprint(hashlib.sha256(data).hexdigest(), perceptual_hash(small),
                       thumbnail.tobytes())


def fingerprint(data: bytes, pixels: np.ndarray, orientation: int = 1) -> Fingerprint:
    """The fingerprint of encoded bytes whose validation decode gave pixels."""
    return fingerprint_of(data, hash_picture(upright_rgb(pixels, orientation)))
