"""The duplicate search of duplicates.py inside the ExampleGen's Beam pipeline.

Each chunk of images (the ExampleGen validates up to ingest.MAX_CHUNK_SIZE at a time)
becomes one compact array of their hashes (28 bytes per image, duplicates.HASHES), fused
into the stage that reads the images; the search itself is one step on one worker, given
every chunk's hashes and the part files holding the images' signatures as side inputs: the
24 bands' candidate pairs from the joined hashes (28 bytes per image), then the thumbnails
of the images they name and the members of the confirmed pairs, each read back from the
part files in a stream (duplicates.find). Nothing about an image is shuffled, and nothing
per band: the local runner copies what a grouping shuffles about three times in memory,
and every extra stage costs a local run a fixed few tens of milliseconds.
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np

from components.image_example_gen import duplicates
from components.image_example_gen.part_files import read_part_file


def _chunk_hashes(chunk: list[duplicates.Signature]) -> bytes:
    """A chunk of signatures -> their HASHES array as bytes."""
    return duplicates.image_hashes(chunk).tobytes()


def _find(_, hash_chunks: list[bytes], signature_files: list[str], shares: dict):
    hashes = np.frombuffer(b"".join(hash_chunks), dtype=duplicates.HASHES)

    def signatures():
        for path in signature_files:
            for chunk in read_part_file(path):
                yield from chunk

    return duplicates.find(hashes, signatures, shares)


@beam.ptransform_fn
def FindDuplicates(signature_chunks, signature_files, shares: dict):  # noqa: N802 - a PTransform
    """Chunks of (Member, thumbnail), and the part files holding them -> one element:
    ({index: group key}, duplicate report)."""
    hash_chunks = signature_chunks | "ImageHashes" >> beam.Map(_chunk_hashes)
    return (
        signature_chunks.pipeline
        | "Once" >> beam.Create([None], reshuffle=False)
        | "Search" >> beam.Map(_find, beam.pvalue.AsList(hash_chunks),
                               beam.pvalue.AsList(signature_files), shares)
    )
