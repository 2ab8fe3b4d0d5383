"""Reading one item: its bytes from the source, one validation decode, its fingerprint and
its measures (image_measures.py: dark, blurry, tiny, ...), both from the decoded pixels.

What the ExampleGen does to each image in Beam, and `visionpipe inspect` in a thread
pool: the same function, so both quarantine the same files for the same reasons.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from components.image_example_gen import sources
from components.image_example_gen.duplicates import Member
from components.image_example_gen.fingerprints import fingerprint_of, hash_picture, upright_rgb
from components.image_example_gen.image_measures import Measures, measure
from components.image_example_gen.validation import ImageInfo, InvalidImage, decode_for_validation


@dataclasses.dataclass(frozen=True)
class Ingested:
    """A valid image as the ExampleGen writes it: where it comes from and what it is."""

    index: int  # position in the run's listing
    item: sources.Item
    input: str  # the input it came from (layout.InputSplit.name)
    info: ImageInfo
    sha256: str
    measures: Measures


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
           input_name: str, image_shape: tuple[int, int, int], max_pixels: int,
           model_side: int = 0) -> Fingerprinted | Quarantined:
    """The image read, validated, fingerprinted and measured, or why it is quarantined.
    model_side: the model's input short side, which says what is tiny (0: unknown)."""
    try:
        data = source.read(input_base, item, image_shape)
        info, pixels = decode_for_validation(data, max_pixels)
    except (InvalidImage, sources.UnreadableItem, OSError, tf.errors.OpError) as error:
        reason = error.message if isinstance(error, tf.errors.OpError) else str(error)
        return Quarantined(item.id, reason)
    small = hash_picture(upright_rgb(pixels, info.orientation))  # one resize for both
    found = fingerprint_of(data, small)
    turned = info.orientation >= 5  # EXIF orientations 5-8 swap the sides
    height, width = (info.width, info.height) if turned else (info.height, info.width)
    measures = measure(small, height, width, model_side)
    member = Member(index, item.id, input_name, item.class_name, found.sha256, found.phash)
    return Fingerprinted(Ingested(index, item, input_name, info, found.sha256, measures),
                         member, found.thumbnail, data)
