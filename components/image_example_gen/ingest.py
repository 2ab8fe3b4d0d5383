"""Reading one item: its bytes from the source, one validation decode, its fingerprint.

What the ExampleGen does to each image in Beam, and `visionpipe inspect` in a thread
pool: the same function, so both quarantine the same files for the same reasons.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from components.image_example_gen import sources
from components.image_example_gen.duplicates import Member
from components.image_example_gen.fingerprints import fingerprint
from components.image_example_gen.validation import ImageInfo, InvalidImage, decode_for_validation


@dataclasses.dataclass(frozen=True)
class Ingested:
    """A valid image as the ExampleGen writes it: where it comes from and what it is."""

    index: int  # position in the run's listing
    item: sources.Item
    input: str  # the input it came from (layout.InputSplit.name)
    info: ImageInfo
    sha256: str


@dataclasses.dataclass(frozen=True)
class Fingerprinted:
    """What reading one valid image gives: its record, its duplicate-search member and
    thumbnail, and the bytes as read (written at once when the image's role is fixed)."""

    record: Ingested
    member: Member
    thumbnail: bytes
    data: bytes


@dataclasses.dataclass(frozen=True)
class Quarantined:
    """An item that is not an image this pipeline accepts, and why."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def ingest(source: sources.Source, input_base: str, index: int, item: sources.Item,
           input_name: str, image_shape: tuple[int, int, int], max_pixels: int
           ) -> Fingerprinted | Quarantined:
    """The image read, validated and fingerprinted, or why it is quarantined."""
    try:
        data = source.read(input_base, item, image_shape)
        info, pixels = decode_for_validation(data, max_pixels)
    except (InvalidImage, sources.UnreadableItem, OSError, tf.errors.OpError) as error:
        reason = error.message if isinstance(error, tf.errors.OpError) else str(error)
        return Quarantined(item.id, reason)
    found = fingerprint(data, pixels, info.orientation)
    member = Member(index, item.id, input_name, item.class_name, found.sha256, found.phash)
    return Fingerprinted(Ingested(index, item, input_name, info, found.sha256), member,
                         found.thumbnail, data)
