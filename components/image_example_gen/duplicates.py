"""Near-copies without comparing all pairs: banded hashing of the perceptual hash, then a check.

An image is a near-copy of another when their 64-bit perceptual hashes differ in at most
MAX_DISTANCE bits AND their 16 x 16 colour thumbnails correlate (Pearson, over all pixels
and channels) at MIN_CORRELATION or more. Measured on real photos (BENCHMARKS.md):
re-encodes, resizes, format changes and brightness, contrast or saturation changes are
caught (>= 99 %), small crops and rotations partly (3 % crop ~70 %, 3 degrees ~40 %), a
grey copy of a colour photo half the time; flips, larger crops and other shots of the same
scene are not. The grey perceptual hash alone would also pair pictures that differ only
in colour (the same shape on other colours, Rock-Paper-Scissors renders with another
skin tone); the colour thumbnail keeps those apart.

Candidates come from bit-sampling locality-sensitive hashing: BANDS bands of BAND_BITS
bits picked from the hash; two hashes within MAX_DISTANCE bits share a band with
probability >= 0.98 at 8 bits and >= 0.90 at 10, and two unrelated hashes (about 32
bits apart) with probability 1 - (1 - 2**-14)**24 ~ 0.15 %. Only hashes in one bucket are
compared, and byte-identical images are collapsed to one first, so no step compares all
pairs. Groups are the connected components of the near-copy relation (union-find).

Everything here is plain Python on plain values: the ExampleGen runs it inside Beam
(find_duplicates.py) and `visionpipe inspect` in one process, with the same results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from components.image_example_gen.layout import TRAIN

HASH_BITS = 64
MAX_DISTANCE = 10  # bits of 64
MIN_CORRELATION = 0.97  # of the colour thumbnails
BANDS = 24
BAND_BITS = 14
BAND_PREFIX_BITS = 3  # each band's buckets are processed in 2**3 shards
_BAND_POSITIONS = [tuple(sorted(random.Random(band).sample(range(HASH_BITS), BAND_BITS)))
                   for band in range(BANDS)]
MAX_LISTED = 1000  # pairs listed in the report (all are counted)


@dataclasses.dataclass(frozen=True)
class Member:
    """An image as the duplicate search reports it."""

    index: int  # its position in the run's listing
    id: str  # path below the input base, or <file>:<line>
    input: str  # the input it came from (layout.InputSplit.name)
    label: str
    sha256: str
    phash: int

    @property
    def entry(self) -> Entry:
        """What the bucketing carries: (index, perceptual hash, 64 bits of the content hash)."""
        return self.index, self.phash, int(self.sha256[:16], 16)


Entry = tuple[int, int, int]  # (index, perceptual hash, content key): small, for the shuffle


@dataclasses.dataclass(frozen=True)
class Edge:
    """Two near-copies (representatives of their exact-copy groups)."""

    a: Member
    b: Member
    distance: int
    correlation: float


def band_keys(phash: int) -> list[tuple[int, int]]:
    """(band, bucket) for each band: the hash's bits at the band's positions."""
    keys = []
    for band, positions in enumerate(_BAND_POSITIONS):
        bucket = 0
        for position in positions:
            bucket = (bucket << 1) | ((phash >> position) & 1)
        keys.append((band, bucket))
    return keys


def shard_of(band: int, bucket: int) -> tuple[int, int]:
    """The shard a band's bucket is processed in (spreads one band over workers)."""
    return band, bucket >> (BAND_BITS - BAND_PREFIX_BITS)


def collapse_exact(entries: Iterable[Entry]) -> tuple[list[Entry], list[list[int]]]:
    """Byte-identical images collapsed: (one entry per content, the lowest index; the index
    lists of contents held by two or more images). All copies of a content share its hash,
    so they meet in the same bucket of every band."""
    by_content: dict[int, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_content[entry[2]].append(entry)
    kept, groups = [], []
    for same in by_content.values():
        same.sort()
        kept.append(same[0])
        if len(same) > 1:
            groups.append([entry[0] for entry in same])
    return kept, groups


def close_pairs(entries: Sequence[Entry]) -> list[tuple[int, int, int]]:
    """(index, index, distance) of one bucket's entries within MAX_DISTANCE bits."""
    if len(entries) < 2:
        return []
    hashes = np.array([entry[1] for entry in entries], dtype=np.uint64)
    xor = hashes[:, None] ^ hashes[None, :]
    distances = np.unpackbits(xor.view(np.uint8).reshape(len(entries), len(entries), 8),
                              axis=-1).sum(axis=-1)
    rows, columns = np.nonzero(np.triu(distances <= MAX_DISTANCE, k=1))
    return [(min(entries[i][0], entries[j][0]), max(entries[i][0], entries[j][0]),
             int(distances[i, j])) for i, j in zip(rows, columns, strict=True)]


def bucket_candidates(entries: Sequence[Entry]) -> list[tuple[int, int, int]]:
    """Candidate pairs among a bucket's entries, byte-identical copies collapsed first."""
    return close_pairs(collapse_exact(entries)[0])


def correlation(thumbnail_a: bytes, thumbnail_b: bytes) -> float:
    """Pearson correlation of two thumbnails over all pixels and channels (1.0 for two flat)."""
    a = np.frombuffer(thumbnail_a, np.uint8).astype(np.float32)
    b = np.frombuffer(thumbnail_b, np.uint8).astype(np.float32)
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(a @ b) / norm


Signature = tuple[Member, bytes]  # an image and its thumbnail


def confirmed(pair: tuple[int, int, int], signatures: dict[int, Signature]) -> Edge | None:
    """A candidate pair as an Edge when the thumbnails confirm it, else None."""
    i, j, distance = pair
    (a, thumbnail_a), (b, thumbnail_b) = signatures[i], signatures[j]
    corr = correlation(thumbnail_a, thumbnail_b)
    return Edge(a, b, distance, corr) if corr >= MIN_CORRELATION else None


def find_in_memory(signatures: Iterable[Signature],
                   shares: dict[str, Sequence[Sequence]]) -> tuple[dict[int, str], dict]:
    """The whole search in one process (what `visionpipe inspect` runs): groups and report."""
    by_index = {member.index: (member, thumbnail) for member, thumbnail in signatures}
    buckets = defaultdict(list)
    for member, _ in by_index.values():
        for key in band_keys(member.phash):
            buckets[key].append(member.entry)
    candidates, exact_groups = set(), []
    for (band, _), entries in buckets.items():
        if band == 0:
            exact_groups += collapse_exact(entries)[1]
        candidates.update(bucket_candidates(entries))
    edges = [edge for pair in sorted(candidates)
             if (edge := confirmed(pair, by_index)) is not None]
    exact = [[by_index[i][0] for i in group] for group in exact_groups]
    return analyse(edges, exact, shares)


def role_of(shares: Sequence[Sequence], key: str) -> str:
    """The role a hash-split input gives the group with this key (a content hash).

    Deterministic: the same key always lands in the same role for the same shares.
    """
    if len(shares) == 1:
        return shares[0][0]
    total = sum(weight for _, weight in shares)
    bucket = int(hashlib.sha256(key.encode()).hexdigest(), 16) % total
    for role, weight in shares:
        if bucket < weight:
            return role
        bucket -= weight
    raise AssertionError("unreachable: the buckets cover the total")


class _UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def analyse(edges: Iterable[Edge], exact_groups: Iterable[Sequence[Member]],
            shares: dict[str, Sequence[Sequence]]) -> tuple[dict[int, str], dict]:
    """Groups, roles and the leakage findings, from the confirmed near-copies and exact copies.

    shares: each input's (role, weight) pairs. Returns ({index: group key} for every image
    in a group of two or more, the report without the per-split totals).
    """
    edges = list(edges)
    copies_of: dict[int, list[Member]] = {}  # representative index -> its exact copies
    for group in exact_groups:
        copies_of[group[0].index] = list(group)
    members: dict[int, Member] = {}
    union = _UnionFind()
    for representative, copies in copies_of.items():
        members.update((m.index, m) for m in copies)
        for copy in copies:
            union.union(representative, copy.index)
    neighbours: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for edge in edges:
        members[edge.a.index], members[edge.b.index] = edge.a, edge.b
        union.union(edge.a.index, edge.b.index)
        neighbours[edge.a.index].append((edge.b.index, edge.distance, edge.correlation))
        neighbours[edge.b.index].append((edge.a.index, edge.distance, edge.correlation))

    groups: dict[int, list[Member]] = defaultdict(list)
    for index in members:
        groups[union.find(index)].append(members[index])
    group_keys, roles = {}, {}
    for group in groups.values():
        key = min(m.sha256 for m in group)
        for m in group:
            group_keys[m.index] = key
            roles[m.index] = role_of(shares[m.input], key)

    rep_of = {c.index: r for r, copies in copies_of.items() for c in copies}

    def near(index: int):
        """(member, distance, correlation) of every direct near-copy of an image."""
        rep = rep_of.get(index, index)
        found = [(c, 0, 1.0) for c in copies_of.get(rep, []) if c.index != index]
        for other, distance, corr in neighbours.get(rep, []):
            found += [(c, distance, corr) for c in copies_of.get(other, [members[other]])]
        return found

    cross_pairs, conflicts, flagged = [], [], defaultdict(set)
    seen_conflicts = set()
    for index, member in sorted(members.items()):
        for other, distance, corr in near(index):
            pair = tuple(sorted((index, other.index)))
            if member.label != other.label and pair not in seen_conflicts:
                seen_conflicts.add(pair)
                conflicts.append(_pair(member, roles[index], other, roles[other.index],
                                       distance, corr))
            if roles[index] != TRAIN and roles[other.index] == TRAIN:
                flagged[roles[index]].add(index)
                cross_pairs.append({"training": other.id, "training_label": other.label,
                                    "other": member.id, "split": roles[index],
                                    "label": member.label, "distance": distance,
                                    "correlation": round(corr, 4)})
    cross_pairs.sort(key=lambda p: (p["distance"], -p["correlation"], p["other"]))
    sizes = sorted((sorted(g, key=lambda m: m.id) for g in groups.values()),
                   key=lambda g: (-len(g), g[0].id))
    report = {
        "method": {"perceptual_hash": f"imagehash.phash, {HASH_BITS} bits",
                   "max_distance": MAX_DISTANCE,
                   "colour_thumbnail_min_correlation": MIN_CORRELATION,
                   "bands": BANDS, "band_bits": BAND_BITS},
        "groups": len(groups),
        "images_in_groups": len(members),
        "exact_copies": sum(len(c) - 1 for c in copies_of.values()),
        "largest_groups": [[{"path": m.id, "split": roles[m.index], "label": m.label}
                            for m in group[:20]] for group in sizes[:20]],
        "near_copies_in_training": {role: len(images) for role, images in sorted(flagged.items())},
        "cross_split_pair_count": len(cross_pairs),
        "cross_split_pairs": cross_pairs[:MAX_LISTED],
        "label_conflict_count": len(conflicts),
        "label_conflicts": conflicts[:MAX_LISTED],
    }
    return group_keys, report


def _pair(a: Member, role_a: str, b: Member, role_b: str, distance: int, corr: float) -> dict:
    return {"a": a.id, "a_split": role_a, "a_label": a.label, "b": b.id, "b_split": role_b,
            "b_label": b.label, "distance": distance, "correlation": round(corr, 4)}


def leakage(report: dict, examples_per_split: dict[str, int]) -> dict:
    """The fraction of validation and test images with a near-copy in training."""
    evaluated = sum(count for role, count in examples_per_split.items() if role != TRAIN)
    leaked = sum(report["near_copies_in_training"].values())
    return {"evaluated": evaluated, "with_near_copy_in_training": leaked,
            "fraction": round(leaked / evaluated, 4) if evaluated else 0.0}
