"""Reading a chunk of items: each one's bytes from the source, one validation decode, its
fingerprint and its measures (image_measures.py: dark, blurry, tiny, ...), both from the
decoded pixels.

What the ExampleGen does to each chunk in Beam, and `visionpipe inspect` in a thread pool:
the same function, so both quarantine the same files for the same reasons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from components.image_example_gen import sources
from components.image_example_gen.duplicates import Member
from components.image_example_gen.fingerprints import fingerprints_of, hash_picture, upright_rgb
from components.image_example_gen.image_measures import NOT_MEASURED, Measures, measure_all
from components.image_example_gen.validation import ImageInfo, InvalidImage, decode_all_for_validation


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


# A chunk: the images read, fingerprinted and measured together (one task, one Beam element).
# Every chunk costs a graph call, a Beam element and its writes: on caltech101's photos,
# chunks of 128 ran the ExampleGen 1.15x faster than chunks of 32, and 256 about 1.05x
# faster again (BENCHMARKS.md). Large images make smaller chunks: a chunk's encoded bytes
# are held about twice (read, then in its Examples) by each of the pool's chunks in
# flight, so a chunk is cut to about CHUNK_BYTES; and small data sets keep MIN_CHUNKS
# chunks, so the pool's threads have work side by side until the end.
MAX_CHUNK_SIZE = 256
MIN_CHUNK_SIZE = 4
MIN_CHUNKS = 16
CHUNK_BYTES = 32 << 20
SIZE_SAMPLE = 32  # the images whose stored sizes say how large the data's images are


def chunk_size(sizes: Sequence[int], count: int) -> int:
    """Images per chunk for count images of these stored sizes (a sample): about
    CHUNK_BYTES of them, at most a MIN_CHUNKS-th of them, within MIN_CHUNK_SIZE and
    MAX_CHUNK_SIZE."""
    mean = sum(sizes) / len(sizes) if sizes else 0
    wanted = min(CHUNK_BYTES // max(mean, 1), -(-count // MIN_CHUNKS))
    return int(max(MIN_CHUNK_SIZE, min(MAX_CHUNK_SIZE, wanted)))


def chunked(entries: Sequence[tuple[int, sources.Item, str]], source: sources.Source,
            input_base: str) -> list[list[tuple[int, sources.Item, str]]]:
    """(index, item, input) entries cut into chunks of chunk_size, in order, sized by the
    stored sizes of size_sample(entries)."""
    size = chunk_size([_stored_size(source, input_base, item)
                       for _, item, _ in size_sample(entries)], len(entries))
    return [list(entries[i:i + size]) for i in range(0, len(entries), size)]


def size_sample(entries: Sequence) -> Sequence:
    """SIZE_SAMPLE of entries, spread over them (a listing comes grouped by class)."""
    return entries[::max(1, len(entries) // SIZE_SAMPLE)][:SIZE_SAMPLE]


def _stored_size(source: sources.Source, input_base: str, item: sources.Item) -> int:
    """The item's stored size; 0 when it cannot be read (reading it quarantines it)."""
    try:
        return source.size(input_base, item)
    except OSError:
        return 0


@dataclasses.dataclass(frozen=True)
class _Decoded:
    """A valid image's bytes, what validation found and its hash picture (upright 32 x 32)."""

    data: bytes
    info: ImageInfo
    picture: np.ndarray


def _read(source: sources.Source, input_base: str, item: sources.Item,
          image_shape: tuple[int, int, int]) -> bytes | Quarantined:
    try:
        return source.read(input_base, item, image_shape)
    except (sources.UnreadableItem, OSError, tf.errors.OpError) as error:
        return Quarantined(item.id, error.message if isinstance(error, tf.errors.OpError)
                           else str(error))


def _read_and_decode(source: sources.Source, input_base: str,
                     items: Sequence[sources.Item], image_shape: tuple[int, int, int],
                     max_pixels: int) -> list[_Decoded | Quarantined]:
    """Each item read, then the chunk validated in one call (decode_all_for_validation:
    the JPEGs in one graph call)."""
    read = [_read(source, input_base, item, image_shape) for item in items]
    readable = [data for data in read if not isinstance(data, Quarantined)]
    decoded = iter(decode_all_for_validation(readable, max_pixels))
    results: list[_Decoded | Quarantined] = []
    for item, data in zip(items, read, strict=True):
        if isinstance(data, Quarantined):
            results.append(data)
            continue
        found = next(decoded)
        if isinstance(found, InvalidImage):
            results.append(Quarantined(item.id, str(found)))
            continue
        info, pixels = found
        results.append(_Decoded(data, info, hash_picture(upright_rgb(pixels, info.orientation))))
    return results


def ingest_chunk(source: sources.Source, input_base: str,
                 entries: Sequence[tuple[int, sources.Item, str]],
                 image_shape: tuple[int, int, int], max_pixels: int, model_side: int = 0,
                 measured: bool = True) -> list[Fingerprinted | Quarantined]:
    """Each (index, item, input name) read, validated, fingerprinted and measured, or why it
    is quarantined, in the order given. model_side: the model's input short side, which
    says what is tiny (0: unknown); measured=False skips the image measures (a benchmark's
    switch). The chunk's images are read, then validated together (the JPEGs in one graph
    call), and their hash pictures fingerprinted and measured together, as arrays."""
    decoded = _read_and_decode(source, input_base, [item for _, item, _ in entries],
                               image_shape, max_pixels)
    valid = [(entry, found) for entry, found in zip(entries, decoded, strict=True)
             if isinstance(found, _Decoded)]
    if not valid:
        return decoded
    pictures = np.stack([found.picture for _, found in valid])
    prints = fingerprints_of([found.data for _, found in valid], pictures)
    # EXIF orientations 5-8 swap the sides
    sizes = [(found.info.width, found.info.height) if found.info.orientation >= 5
             else (found.info.height, found.info.width) for _, found in valid]
    measures = (measure_all(pictures, sizes, model_side) if measured
                else [NOT_MEASURED] * len(valid))
    done = iter(
        Fingerprinted(Ingested(index, item, input_name, found.info, printed.sha256, measured_),
                      Member(index, item.id, input_name, item.class_name, printed.sha256,
                             printed.phash),
                      printed.thumbnail, found.data)
        for ((index, item, input_name), found), printed, measured_ in zip(
            valid, prints, measures, strict=True))
    return [next(done) if isinstance(found, _Decoded) else found for found in decoded]
