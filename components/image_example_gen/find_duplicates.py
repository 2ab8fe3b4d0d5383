"""The duplicate search of duplicates.py as Beam transforms, so it scales out with the ExampleGen.

- Bucketing: each chunk of images (the ExampleGen validates 32 at a time) becomes one
  compact array of their hashes (28 bytes per image), all joined into one array; the 24
  bands are searched in parallel, each computing its buckets from that array, into one
  array of candidate pairs. Nothing else about an image, and nothing per band, is
  shuffled: the local runner copies what a grouping shuffles about three times in memory,
  which for 24 bands' entries was the largest part of the search's memory.
- Confirming: the thumbnails of the images in a candidate pair are read back from the
  signature files the ExampleGen wrote into one compact array (about 800 bytes per image;
  on data whose perceptual hashes crowd together that can be most images), the pairs
  compared a block at a time; then only the images in a confirmed pair or an exact-copy
  group are read back a second time for their names and labels.
- The confirmed pairs and exact-copy groups reach the one step that forms the groups.
"""

from __future__ import annotations

import pickle
from array import array

import apache_beam as beam
import numpy as np

from components.image_example_gen import duplicates


def _chunk_hashes(chunk: list[duplicates.Signature]) -> bytes:
    """A chunk of signatures -> their HASHES array as bytes."""
    return duplicates.image_hashes(chunk).tobytes()


class _JoinedBytes(beam.CombineFn):
    """Byte strings -> one, joined (in no particular order)."""

    def create_accumulator(self):
        return bytearray()

    def add_input(self, accumulator, element):
        accumulator.extend(element)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = bytearray()
        for accumulator in accumulators:
            merged.extend(accumulator)
        return merged

    def extract_output(self, accumulator):
        return bytes(accumulator)


def _search_band(band: int, hashes: bytes) -> tuple[np.ndarray, list[list[int]]]:
    """One band's buckets -> (its candidate pairs, and in band 0 the exact-copy groups)."""
    entries = duplicates.band_entries(np.frombuffer(hashes, dtype=duplicates.HASHES), band)
    return duplicates.band_candidates(entries, with_exact=band == 0)


def _merge(bands: list[tuple[np.ndarray, list[list[int]]]]):
    """Every band's findings -> (candidate pairs, each once; exact-copy groups; every index
    either names)."""
    pairs = duplicates.unique_pairs(found[0] for found in bands)
    exact = [group for found in bands for group in found[1]]
    named = {int(i) for i in np.unique(pairs[:, :2])} | {i for g in exact for i in g}
    return pairs, exact, named


def _named_thumbnail(signature: duplicates.Signature, candidates):
    member, thumbnail = signature
    if member.index in candidates[2]:
        yield member.index, thumbnail


class _ThumbnailArrays(beam.CombineFn):
    """(index, thumbnail) of the named images -> (sorted indices, uint8 [n, pixels]): about one
    thumbnail of memory per image, where a dict of Python objects took twenty times that."""

    def create_accumulator(self):
        return array("q"), bytearray()

    def add_input(self, accumulator, element):
        index, thumbnail = element
        accumulator[0].append(index)
        accumulator[1].extend(thumbnail)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for indices, thumbnails in accumulators:
            merged[0].extend(indices)
            merged[1].extend(thumbnails)
        return merged

    def extract_output(self, accumulator):
        indices = np.frombuffer(accumulator[0], dtype=np.int64)
        if not len(indices):
            return indices, np.zeros((0, 0), np.uint8)
        thumbnails = np.frombuffer(bytes(accumulator[1]), np.uint8).reshape(len(indices), -1)
        order = np.argsort(indices)
        return indices[order], thumbnails[order]


def _confirm(candidates, thumbnails):
    """-> (confirmed pairs, their correlations, exact-copy groups, every index either names)."""
    pairs, exact, _ = candidates
    confirmed, correlations = duplicates.confirmed_pairs(pairs, *thumbnails)
    named = {int(i) for i in np.unique(confirmed[:, :2])} | {i for g in exact for i in g}
    return confirmed, correlations, exact, named


def _named_member(signature: duplicates.Signature, confirmed):
    if signature[0].index in confirmed[3]:
        yield signature[0].index, signature[0]


def _analyse(confirmed, members, shares):
    pairs, correlations, exact_groups, _ = confirmed
    edges = duplicates.as_edges(pairs, correlations, members)
    exact = [[members[i] for i in group] for group in exact_groups]
    return duplicates.analyse(edges, exact, shares)


@beam.ptransform_fn
def FindDuplicates(signature_chunks, signature_files, shares: dict):  # noqa: N802 - a PTransform
    """Chunks of (Member, thumbnail), and the files holding them -> one element:
    ({index: group key}, duplicate report)."""
    hashes = (signature_chunks
              | "ImageHashes" >> beam.Map(_chunk_hashes)
              | "AllHashes" >> beam.CombineGlobally(_JoinedBytes()))
    candidates = (
        signature_chunks.pipeline
        | "Bands" >> beam.Create(range(duplicates.BANDS))
        | "SearchBands" >> beam.Map(_search_band, beam.pvalue.AsSingleton(hashes))
        | "AllBands" >> beam.combiners.ToList()
        | "Merge" >> beam.Map(_merge)
    )
    thumbnails = (
        signature_files
        | "ReadThumbnails" >> beam.io.ReadAllFromTFRecord()
        | "KeepCandidates" >> beam.FlatMap(lambda record, candidates: _named_thumbnail(
            pickle.loads(record), candidates), beam.pvalue.AsSingleton(candidates))
        | "ThumbnailArrays" >> beam.CombineGlobally(_ThumbnailArrays()))
    confirmed = candidates | "Confirm" >> beam.Map(_confirm, beam.pvalue.AsSingleton(thumbnails))
    members = beam.pvalue.AsDict(
        signature_files
        | "ReadMembers" >> beam.io.ReadAllFromTFRecord()
        | "KeepConfirmed" >> beam.FlatMap(lambda record, confirmed: _named_member(
            pickle.loads(record), confirmed), beam.pvalue.AsSingleton(confirmed)))
    return confirmed | "Analyse" >> beam.Map(_analyse, members, shares)
