"""A JPEG's size and EXIF orientation, read from its markers without opening it in PIL.

Written by hand because it is on the ExampleGen's hot path: PIL's JPEG plugin parses every
marker in Python and builds an Image (about 45 us a photo, a fifth of the validation
decode); this walks the markers to the frame header (SOFn) and, when an APP1 Exif segment
comes first, reads one TIFF tag. Anything it does not expect returns None, and the caller
reads the header with PIL as before, so an odd file gets PIL's verdict and message.
"""

from __future__ import annotations

_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_STANDALONE = frozenset((0x01, *range(0xD0, 0xD8)))  # TEM, RST0-7: no length
_ORIENTATION_TAG = 0x0112


def read(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, EXIF orientation (1 when none)) of JPEG bytes, or None."""
    position, end, orientation = 2, len(data), 1
    while position + 4 <= end:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if length < 2:
            return None
        segment = data[position + 4:position + 2 + length]
        if marker in _SOF:
            if len(segment) < 5:
                return None
            height = int.from_bytes(segment[1:3], "big")
            width = int.from_bytes(segment[3:5], "big")
            return width, height, orientation
        if marker == 0xE1 and segment[:6] == b"Exif\0\0":
            found = _orientation(segment[6:])
            if found is None:
                return None
            orientation = found
        if marker == 0xDA:  # scan data before any frame header: not a JPEG we know
            return None
        position += 2 + length
    return None


def _orientation(tiff: bytes) -> int | None:
    """The Orientation tag of IFD0 (1 when absent), or None when the TIFF is malformed."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "little" if tiff[:2] == b"II" else "big"
    offset = int.from_bytes(tiff[4:8], order)
    if offset + 2 > len(tiff):
        return None
    entries = int.from_bytes(tiff[offset:offset + 2], order)
    for entry in range(entries):
        start = offset + 2 + 12 * entry
        if start + 12 > len(tiff):
            return None
        if int.from_bytes(tiff[start:start + 2], order) == _ORIENTATION_TAG:
            return int.from_bytes(tiff[start + 8:start + 10], order)  # a SHORT, left-aligned
    return 1
