"""The duplicate search of duplicates.py as Beam transforms, so it scales out with the ExampleGen.

Elements are chunks (the ExampleGen validates images 32 at a time), so Beam's
per-element cost is paid per chunk, not per image and band; the bucketing shuffles
three integers per image and band; each band's buckets are grouped in 2**3 shards, so no
worker holds more than a shard of one band; only confirmed pairs and exact-copy groups
(a small collection on real data) reach the one step that forms the groups.
"""

from __future__ import annotations

from collections import defaultdict

import apache_beam as beam

from components.image_example_gen import duplicates

_EXACT = "exact"


def _shard_entries(chunk: list[duplicates.Signature]):
    """A chunk of signatures -> ((band, shard), [(bucket, entry), ...]) per shard it touches."""
    shards = defaultdict(list)
    for member, _ in chunk:
        for band, bucket in duplicates.band_keys(member.phash):
            shards[duplicates.shard_of(band, bucket)].append((bucket, member.entry))
    return list(shards.items())


def _candidates_in_shard(shard_and_entries):
    """One shard's buckets -> candidate pairs (index, index, distance); band 0 also emits the
    index lists of byte-identical images, tagged."""
    (band, _), entry_lists = shard_and_entries
    buckets = defaultdict(list)
    for entries in entry_lists:
        for bucket, entry in entries:
            buckets[bucket].append(entry)
    for entries in buckets.values():
        if band == 0:
            for group in duplicates.collapse_exact(entries)[1]:
                yield beam.pvalue.TaggedOutput(_EXACT, group)
        for pair in duplicates.bucket_candidates(entries):
            yield pair[:2], pair


def _analyse(_, edges, exact_groups, signatures, shares):
    exact = [[signatures[i][0] for i in group] for group in exact_groups]
    return duplicates.analyse(edges, exact, shares)


@beam.ptransform_fn
def FindDuplicates(signature_chunks, shares: dict):  # noqa: N802 - a PTransform
    """Chunks of (Member, thumbnail) -> one element: ({index: group key}, duplicate report)."""
    signatures = beam.pvalue.AsDict(signature_chunks | "ByIndex" >> beam.FlatMap(
        lambda chunk: [(member.index, (member, thumbnail)) for member, thumbnail in chunk]))
    found = (
        signature_chunks
        | "BandShards" >> beam.FlatMap(_shard_entries)
        | "GroupShards" >> beam.GroupByKey()
        | "Candidates" >> beam.FlatMap(_candidates_in_shard)
        .with_output_types(tuple[tuple[int, int], tuple[int, int, int]])
        .with_outputs(_EXACT, main="pairs")
    )
    edges = (
        found.pairs
        | "OncePerPair" >> beam.CombinePerKey(lambda pairs: next(iter(pairs)))
        | "Confirm" >> beam.FlatMap(
            lambda keyed, signatures: [edge] if (edge := duplicates.confirmed(
                keyed[1], signatures)) is not None else [], signatures=signatures)
    )
    return (
        signature_chunks.pipeline
        | "Once" >> beam.Create([None])
        | "Analyse" >> beam.Map(_analyse, edges=beam.pvalue.AsList(edges),
                                exact_groups=beam.pvalue.AsList(found[_EXACT]),
                                signatures=signatures, shares=shares)
    )
