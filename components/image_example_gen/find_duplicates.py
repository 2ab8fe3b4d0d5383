"""The duplicate search of duplicates.py as Beam transforms, so it scales out with the ExampleGen.

- Bucketing: each chunk of images (the ExampleGen validates 32 at a time) becomes one
  compact array per band (22 bytes per image); the 24 bands are grouped and searched in
  parallel, each into one array of candidate pairs. Nothing else about an image is
  shuffled.
- Confirming: only the images in a candidate pair or an exact-copy group are read back
  from the signature files the ExampleGen wrote (their thumbnails and names), so what
  waits in memory grows with the near-copy candidates, not with the data.
- The confirmed pairs and exact-copy groups reach the one step that forms the groups.
"""

from __future__ import annotations

import pickle

import apache_beam as beam
import numpy as np

from components.image_example_gen import duplicates


def _band_entries(chunk: list[duplicates.Signature]):
    """A chunk of signatures -> (band, its ENTRY array as bytes) for every band."""
    for band, entries in duplicates.band_entries([member for member, _ in chunk]).items():
        yield band, entries.tobytes()


def _search_band(band_and_parts) -> tuple[np.ndarray, list[list[int]]]:
    """One band's buckets -> (its candidate pairs, and in band 0 the exact-copy groups)."""
    band, parts = band_and_parts
    entries = np.frombuffer(b"".join(parts), dtype=duplicates.ENTRY)
    return duplicates.band_candidates(entries, with_exact=band == 0)


def _merge(bands: list[tuple[np.ndarray, list[list[int]]]]):
    """Every band's findings -> (candidate pairs, each once; exact-copy groups; every index
    either names)."""
    pairs = duplicates.unique_pairs(found[0] for found in bands)
    exact = [group for found in bands for group in found[1]]
    named = {int(i) for i in np.unique(pairs[:, :2])} | {i for g in exact for i in g}
    return pairs, exact, named


def _keep_named(signature: duplicates.Signature, candidates):
    if signature[0].index in candidates[2]:
        yield signature[0].index, signature


def _analyse(candidates, signatures, shares):
    pairs, exact_groups, _ = candidates
    edges = duplicates.confirmed_edges(pairs, signatures)
    exact = [[signatures[i][0] for i in group] for group in exact_groups]
    return duplicates.analyse(edges, exact, shares)


@beam.ptransform_fn
def FindDuplicates(signature_chunks, signature_files, shares: dict):  # noqa: N802 - a PTransform
    """Chunks of (Member, thumbnail), and the files holding them -> one element:
    ({index: group key}, duplicate report)."""
    candidates = (
        signature_chunks
        | "BandEntries" >> beam.FlatMap(_band_entries)
        | "GroupBands" >> beam.GroupByKey()
        | "SearchBands" >> beam.Map(_search_band)
        | "AllBands" >> beam.combiners.ToList()
        | "Merge" >> beam.Map(_merge)
    )
    signatures = beam.pvalue.AsDict(
        signature_files
        | "ReadSignatures" >> beam.io.ReadAllFromTFRecord()
        | "KeepNamed" >> beam.FlatMap(lambda record, candidates: _keep_named(
            pickle.loads(record), candidates), beam.pvalue.AsSingleton(candidates)))
    return candidates | "Analyse" >> beam.Map(_analyse, signatures, shares)
