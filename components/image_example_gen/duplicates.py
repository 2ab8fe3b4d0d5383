"""Near-copies without comparing all pairs: banded hashing of the perceptual hash, then a check.

An image is a near-copy of another when their 64-bit perceptual hashes differ in at most
MAX_DISTANCE bits AND their 16 x 16 colour thumbnails correlate (Pearson, over all pixels
and channels) at MIN_CORRELATION or more. What that catches and what it does not is
measured on real photos by bench/duplicate_benchmarks.py (BENCHMARKS.md): re-encodes,
resizes, format changes and brightness, contrast or saturation changes, yes; small
crops and rotations partly; flips, larger crops and other shots of the same scene, no.
The grey perceptual hash alone would also pair pictures that differ only in colour (the
same shape on other colours, Rock-Paper-Scissors renders with another skin tone); the
colour thumbnail keeps those apart.

Candidates come from bit-sampling locality-sensitive hashing: BANDS bands of BAND_BITS
bits picked from the hash; two hashes within MAX_DISTANCE bits share a band with
probability >= 0.98 at 8 bits and >= 0.90 at 10, and two unrelated hashes (about 32
bits apart) with probability 1 - (1 - 2**-14)**24 ~ 0.15 %. Only hashes in one bucket are
compared, byte-identical images collapsed to one first, so no step compares all pairs.
The search carries 28 bytes per image (HASHES), one array; each band's buckets are computed
from it in turn, so nothing is kept per band. Groups are the connected components of the
near-copy relation (union-find).

Where grey hashes crowd (pictures of one layout on different colours), most pairs of a
bucket are close in grey and far apart in colour, and carrying them all to the thumbnail
check grows with the square of the images (BENCHMARKS.md, the cost curve). So
a same-bucket pair is kept only when a colour hash agrees too: a 64-bit random-hyperplane
SimHash (Charikar 2002) of the centred thumbnail, the very vector whose correlation the
check computes. Two thumbnails at angle t differ in each bit with probability t / pi, so a
pair the check would confirm (correlation >= 0.97, t <= 14 degrees, p <= 0.078) is dropped
(more than COLOUR_MAX_DISTANCE = 16 of 64 bits apart) with probability < 6e-6, while
uncorrelated pictures pass with probability 4e-5. It only prefilters: the check decides.

Plain Python and NumPy on plain values: the ExampleGen runs it inside Beam
(find_duplicates.py) and `visionpipe inspect` in one process, with the same results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from components.image_example_gen.fingerprints import THUMBNAIL_VALUES
from components.image_example_gen.layout import TRAIN

HASH_BITS = 64
MAX_DISTANCE = 10  # bits of 64
MIN_CORRELATION = 0.97  # of the colour thumbnails
BANDS = 24
BAND_BITS = 14
COLOUR_BITS = 64  # random hyperplanes of the colour SimHash
COLOUR_MAX_DISTANCE = 16  # bits of 64: see the module's docstring for the probabilities
_HYPERPLANES = np.random.default_rng(0).standard_normal(
    (THUMBNAIL_VALUES, COLOUR_BITS)).astype(np.float32)
# One BLAS thread for the colour hashes' product. A chunk's product (32 x 768 x 64) is
# large enough for OpenBLAS to run it on every core, and its helper threads then spin-wait
# for the next call: in the ExampleGen, between chunks, they kept a core busy doing nothing
# while the pool's decodes needed it. Measured on 3,000 photo-sized JPEGs on 2 cores, 4
# interleaved runs each: 7.8-9.7 CPU-seconds per run with BLAS's threads, 6.4-7.8 with one.
_BLAS = ThreadpoolController()
_BAND_POSITIONS = np.array([sorted(random.Random(band).sample(range(HASH_BITS), BAND_BITS))
                            for band in range(BANDS)], dtype=np.uint64)
_BAND_WEIGHTS = (1 << np.arange(BAND_BITS - 1, -1, -1)).astype(np.int64)
PAIR_BLOCK = 1 << 18  # same-bucket pairs generated and compared at once
CONFIRM_BLOCK = 4096  # candidate pairs whose thumbnails are compared at once
MAX_LISTED = 1000  # pairs listed in the report (all are counted)
# What the search keeps of an image: its index, its perceptual hash, 64 bits of its content
# hash (to collapse byte-identical copies) and its colour hash.
HASHES = np.dtype([("index", "<u4"), ("phash", "<u8"), ("content", "<u8"), ("colour", "<u8")])
# An image in one band: its bucket there, then its HASHES.
ENTRY = np.dtype([("bucket", "<u2"), *((name, HASHES[name]) for name in HASHES.names)])
_POPCOUNT16 = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)


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
    def content(self) -> int:
        """64 bits of the content hash: equal for byte-identical images."""
        return int(self.sha256[:16], 16)


Signature = tuple[Member, bytes]  # an image and its thumbnail


@dataclasses.dataclass(frozen=True)
class Edge:
    """Two near-copies (representatives of their exact-copy groups)."""

    a: Member
    b: Member
    distance: int
    correlation: float


def popcount(values: np.ndarray) -> np.ndarray:
    """Bits set in each uint64."""
    values = values.astype(np.uint64)
    return sum(_POPCOUNT16[((values >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)]
               .astype(np.int64) for shift in (0, 16, 32, 48))


def hamming(a: int, b: int) -> int:
    """Bits in which two perceptual hashes differ."""
    return (a ^ b).bit_count()


def colour_hashes(thumbnails: np.ndarray) -> np.ndarray:
    """uint8 thumbnails [n, THUMBNAIL_VALUES] -> their 64-bit colour SimHashes (uint64 [n]):
    the signs of the centred, normalized thumbnail's projections on fixed random hyperplanes
    (a flat thumbnail, centred to zeros, hashes to 0 like every other flat one)."""
    with _BLAS.limit(limits=1, user_api="blas"):
        bits = (_normalized_rows(thumbnails) @ _HYPERPLANES) > 0
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64).ravel()


def image_hashes(signatures: Sequence[Signature]) -> np.ndarray:
    """The HASHES array of a batch of images."""
    hashes = np.empty(len(signatures), dtype=HASHES)
    if not signatures:
        return hashes
    members = [member for member, _ in signatures]
    hashes["index"] = [m.index for m in members]
    hashes["phash"] = np.array([m.phash for m in members], dtype=np.uint64)
    hashes["content"] = np.array([m.content for m in members], dtype=np.uint64)
    hashes["colour"] = colour_hashes(np.frombuffer(b"".join(t for _, t in signatures), np.uint8)
                                     .reshape(len(signatures), THUMBNAIL_VALUES))
    return hashes


def band_entries(hashes: np.ndarray, band: int) -> np.ndarray:
    """The images' HASHES as one band's ENTRY array: each bucketed by the perceptual hash's
    bits at the band's positions."""
    bits = ((hashes["phash"][:, None] >> _BAND_POSITIONS[band][None]) & np.uint64(1))
    entries = np.empty(len(hashes), dtype=ENTRY)
    entries["bucket"] = (bits.astype(np.int64) @ _BAND_WEIGHTS).astype(np.uint16)
    for name in HASHES.names:
        entries[name] = hashes[name]
    return entries


NO_PAIRS = np.zeros((0, 3), dtype=np.int64)  # candidate pairs: rows of (index, index, distance)


def band_candidates(entries: np.ndarray, with_exact: bool,
                    colour_max_distance: int = COLOUR_MAX_DISTANCE,
                    ) -> tuple[np.ndarray, list[list[int]]]:
    """One band's entries -> (candidate pairs within MAX_DISTANCE bits of perceptual hash and
    colour_max_distance bits of colour hash, and with with_exact the index lists of
    byte-identical images). All copies of one content share its hash, so they
    meet in the same bucket of every band; each content is kept once before pairing.

    Vectorized: the pairs of entries in one bucket are generated with index arithmetic and
    compared PAIR_BLOCK at a time, so the cost is the number of same-bucket pairs, not a
    Python loop, and the memory a block's, however crowded the buckets.
    """
    if not len(entries):
        return NO_PAIRS, []
    # lexsort, not np.sort(order=...): the same order (index is unique), about 4x faster
    entries = entries[np.lexsort((entries["index"], entries["content"], entries["bucket"]))]
    same_content = ((entries["bucket"][1:] == entries["bucket"][:-1])
                    & (entries["content"][1:] == entries["content"][:-1]))
    first = np.r_[True, ~same_content]
    exact = []
    if with_exact and not first.all():
        groups = np.split(entries["index"], np.flatnonzero(first)[1:])
        exact = [[int(i) for i in group] for group in groups if len(group) > 1]
    kept = entries[first]
    bounds = np.flatnonzero(np.r_[True, kept["bucket"][1:] != kept["bucket"][:-1], True])
    run_end = np.repeat(bounds[1:], np.diff(bounds))
    partners = run_end - np.arange(len(kept)) - 1  # entries after this one in its bucket
    before = np.cumsum(partners) - partners  # pairs of the entries before this one
    found, start = [], 0
    while start < len(kept):  # a block of entries whose pairs number about PAIR_BLOCK
        stop = max(start + 1, int(np.searchsorted(before, before[start] + PAIR_BLOCK)))
        found.append(_close_pairs(kept, start, partners[start:stop], colour_max_distance))
        start = stop
    return np.concatenate([NO_PAIRS, *found]), exact


def _close_pairs(kept: np.ndarray, start: int, partners: np.ndarray,
                 colour_max_distance: int) -> np.ndarray:
    """The pairs close in both hashes among (entry start + i, each of its partners[i]
    successors in its bucket)."""
    total = int(partners.sum())
    if not total:
        return NO_PAIRS
    left = np.repeat(np.arange(start, start + len(partners)), partners)
    right = left + np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners) + 1
    distances = popcount(kept["phash"][left] ^ kept["phash"][right])
    close = np.flatnonzero(distances <= MAX_DISTANCE)
    left, right, distances = left[close], right[close], distances[close]
    if colour_max_distance < COLOUR_BITS:
        colour = popcount(kept["colour"][left] ^ kept["colour"][right]) <= colour_max_distance
        left, right, distances = left[colour], right[colour], distances[colour]
    a, b = kept["index"][left].astype(np.int64), kept["index"][right].astype(np.int64)
    return np.stack([np.minimum(a, b), np.maximum(a, b), distances], axis=1)


def unique_pairs(pair_arrays: Iterable[np.ndarray]) -> np.ndarray:
    """The candidate pairs of several bands, each pair once."""
    pairs = np.concatenate([NO_PAIRS, *pair_arrays])
    _, first = np.unique((pairs[:, 0] << 32) | pairs[:, 1], return_index=True)
    return pairs[np.sort(first)]


def _normalized_rows(thumbnails: np.ndarray) -> np.ndarray:
    """uint8 [n, pixels] -> float32 rows with zero mean and unit norm (all zeros when flat)."""
    rows = thumbnails.astype(np.float32)
    rows -= rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def confirmed_pairs(pairs: np.ndarray, indices: np.ndarray, thumbnails: np.ndarray,
                    block: int = CONFIRM_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs the thumbnails confirm: (their rows of (index, index, distance),
    their correlations).

    indices: the sorted indices of the images the pairs name; thumbnails: their uint8
    thumbnails, one row each, in the same order. Kept as uint8 and compared a block of
    pairs at a time, so what waits in memory is about one thumbnail per named image.
    """
    if not len(pairs):
        return NO_PAIRS, np.zeros(0, np.float32)
    left, right = np.searchsorted(indices, pairs[:, 0]), np.searchsorted(indices, pairs[:, 1])
    kept, correlations = [], []
    for start in range(0, len(pairs), block):
        part = slice(start, start + block)
        a, b = _normalized_rows(thumbnails[left[part]]), _normalized_rows(thumbnails[right[part]])
        flat_a, flat_b = ~a.any(axis=1), ~b.any(axis=1)
        corr = np.where(flat_a & flat_b, 1.0, np.einsum("ij,ij->i", a, b))
        close = corr >= MIN_CORRELATION
        kept.append(pairs[part][close])
        correlations.append(corr[close].astype(np.float32))
    return np.concatenate(kept), np.concatenate(correlations)


def as_edges(pairs: np.ndarray, correlations: np.ndarray, members: dict[int, Member]) -> list[Edge]:
    """Confirmed pairs as Edges between their Members."""
    return [Edge(members[int(a)], members[int(b)], int(distance), float(corr))
            for (a, b, distance), corr in zip(pairs, correlations, strict=True)]


def confirmed_edges(pairs: np.ndarray, signatures: dict[int, Signature]) -> list[Edge]:
    """The candidate pairs the thumbnails confirm, as Edges (everything in one process)."""
    return _confirmed(pairs, signatures.values, set())[0]


def _confirmed(pairs: np.ndarray, signatures: Callable[[], Iterable[Signature]],
               also_wanted: set[int]) -> tuple[list[Edge], dict[int, Member]]:
    """(the Edges the thumbnails confirm among the candidate pairs, the Members of their
    images and of also_wanted); signatures is called twice (see find)."""
    named = {int(i) for i in np.unique(pairs[:, :2])}
    indices, thumbnails = _thumbnails_of(signatures(), named)
    confirmed, correlations = confirmed_pairs(pairs, indices, thumbnails)
    wanted = {int(i) for i in np.unique(confirmed[:, :2])} | also_wanted
    members = {m.index: m for m, _ in signatures() if m.index in wanted}
    return as_edges(confirmed, correlations, members), members


def search_bands(hashes: np.ndarray, colour_max_distance: int = COLOUR_MAX_DISTANCE
                 ) -> tuple[np.ndarray, list[list[int]]]:
    """Every band's candidate pairs among the images' HASHES, each pair once, and the
    exact-copy groups (in one process)."""
    found = [band_candidates(band_entries(hashes, band), band == 0, colour_max_distance)
             for band in range(BANDS)]
    return unique_pairs(pairs for pairs, _ in found), [g for _, exact in found for g in exact]


def candidate_pairs(signatures: Sequence[Signature],
                    colour_max_distance: int = COLOUR_MAX_DISTANCE) -> np.ndarray:
    """Every band's candidate pairs among signatures, each pair once (in one process; with
    colour_max_distance=COLOUR_BITS the colour hash filters nothing)."""
    return search_bands(image_hashes(signatures), colour_max_distance)[0]


def find(hashes: np.ndarray, signatures: Callable[[], Iterable[Signature]],
         shares: dict[str, Sequence[Sequence]]) -> tuple[dict[int, str], dict]:
    """The whole search: candidate pairs from the images' HASHES, confirmed on the thumbnails
    of the images they name, then grouped (analyse).

    signatures: gives every image's signature, each time it is called. It is called twice
    (for the thumbnails of the images the candidates name, then for the members of the
    confirmed pairs and exact copies), so only theirs wait in memory: the ExampleGen reads
    them from its part files, `visionpipe inspect` from a dict.
    """
    pairs, exact_groups = search_bands(hashes)
    edges, members = _confirmed(pairs, signatures, {i for g in exact_groups for i in g})
    return analyse(edges, [[members[i] for i in group] for group in exact_groups], shares)


def _thumbnails_of(signatures: Iterable[Signature], named: set[int]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The named images' (sorted indices, uint8 thumbnails [n, THUMBNAIL_VALUES]): about one
    thumbnail of memory per named image (a dict of Python objects takes twenty times that)."""
    indices, thumbnails = array("q"), bytearray()
    for member, thumbnail in signatures:
        if member.index in named:
            indices.append(member.index)
            thumbnails.extend(thumbnail)
    order = np.argsort(np.frombuffer(indices, dtype=np.int64))
    pixels = np.frombuffer(bytes(thumbnails), np.uint8).reshape(len(indices), THUMBNAIL_VALUES)
    return np.frombuffer(indices, dtype=np.int64)[order], pixels[order]


def find_in_memory(signatures: Iterable[Signature],
                   shares: dict[str, Sequence[Sequence]]) -> tuple[dict[int, str], dict]:
    """The whole search in one process (what `visionpipe inspect` runs): groups and report."""
    by_index = {member.index: (member, thumbnail) for member, thumbnail in signatures}
    return find(image_hashes(list(by_index.values())), by_index.values, shares)


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
        group = sorted(group, key=lambda m: m.index)
        copies_of[group[0].index] = group
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
        "method": {"perceptual_hash": f"DCT pHash, {HASH_BITS} bits",
                   "max_distance": MAX_DISTANCE,
                   "colour_thumbnail_min_correlation": MIN_CORRELATION,
                   "bands": BANDS, "band_bits": BAND_BITS,
                   "colour_hash": f"random-hyperplane SimHash of the thumbnail, {COLOUR_BITS} bits",
                   "colour_hash_max_distance": COLOUR_MAX_DISTANCE},
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
