"""Duplicates and leakage: near-copies stay in one split of the hash split, and near-copies
across the user's own splits are listed, exactly, and can stop the run."""

import io
import json
import zlib

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image, ImageEnhance
from test_image_example_gen import _feature, all_splits, run_executor

from components.common import features
from components.image_example_gen import duplicates
from components.image_example_gen.executor import LeakageError
from components.image_example_gen.fingerprints import THUMBNAIL_VALUES, fingerprint
from components.image_example_gen.layout import DEFAULT_SPLIT_RATIO
from components.image_example_gen.validation import decode_for_validation
from pipeline.config import PipelineConfig
from pipeline.data_tools.inspection import inspect


def seed_of(*parts) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def distinct_picture(seed: int, size=(120, 90)) -> Image.Image:
    """A picture of its own: a random 5 x 4 colour field, smoothly upsampled, light noise."""
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).resize(
        size, Image.Resampling.BICUBIC)
    noise = rng.normal(0, 4, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(field) + noise, 0, 255).astype(np.uint8))


def encode(picture: Image.Image, fmt: str = "JPEG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


COPIES = {  # what a near-copy is made of: all must be found
    "recoded.jpg": lambda p: encode(p, quality=55),
    "smaller.jpg": lambda p: encode(p.resize((p.width // 2, p.height // 2))),
    "brighter.jpg": lambda p: encode(ImageEnhance.Brightness(p).enhance(1.15)),
    "copy.png": lambda p: encode(p, "PNG"),
}


def _signature(index: int, data: bytes, name: str, input_name="all", label="a"):
    info, pixels = decode_for_validation(data)
    found = fingerprint(data, pixels, info.orientation)
    return duplicates.Member(index, name, input_name, label, found.sha256, found.phash), \
        found.thumbnail


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_copies_are_near_copies_and_distinct_pictures_are_not():
    signatures = []
    for group in range(3):
        base = distinct_picture(1000 + group)
        signatures.append(_signature(len(signatures), encode(base), f"g{group}/base.jpg"))
        for name, make in COPIES.items():
            signatures.append(_signature(len(signatures), make(base), f"g{group}/{name}"))
    signatures += [_signature(len(signatures), encode(distinct_picture(seed)), f"d/{seed}.jpg")
                   for seed in range(60)]
    group_keys, report = duplicates.find_in_memory(signatures, {"all": (("train", 100),)})
    grouped = {member.id.split("/")[0] for member, _ in signatures if member.index in group_keys}
    assert grouped == {"g0", "g1", "g2"}  # every copy found, no distinct picture paired
    assert report["groups"] == 3 and report["images_in_groups"] == 3 * (1 + len(COPIES))


def test_one_layout_on_many_colours_gives_fewer_candidates_and_the_same_near_copies():
    """Where grey hashes crowd (one pattern on 150 background colours), the colour hash keeps
    pairs that differ in colour from becoming candidates; the near-copies found are the same."""
    rng = np.random.default_rng(5)
    pattern = np.asarray(distinct_picture(3).convert("L"), np.float32)
    pattern = (pattern - pattern.mean()) / pattern.std() * 25
    signatures = []
    for i in range(150):
        picture = rng.integers(40, 216, 3)[None, None, :] + pattern[..., None]
        picture = np.clip(picture + rng.normal(0, 3, picture.shape), 0, 255).astype(np.uint8)
        signatures.append(_signature(i, encode(Image.fromarray(picture)), f"{i}.jpg"))
    crowded = duplicates.candidate_pairs(signatures, duplicates.COLOUR_BITS)  # the prefilter off
    kept = duplicates.candidate_pairs(signatures)
    assert len(crowded) > 5000 and len(kept) < len(crowded) / 3
    by_index = dict(enumerate(signatures))
    confirmed = {(e.a.index, e.b.index) for e in duplicates.confirmed_edges(crowded, by_index)}
    assert confirmed and confirmed == {(e.a.index, e.b.index)
                                       for e in duplicates.confirmed_edges(kept, by_index)}


def test_the_colour_hash_keeps_every_pair_the_thumbnail_check_would_confirm():
    rng = np.random.default_rng(11)
    thumbnails = rng.integers(0, 256, (4000, THUMBNAIL_VALUES)).astype(np.float32)
    centred = thumbnails - thumbnails.mean(axis=1, keepdims=True)
    # A partner at correlation 0.97 (0.970-0.973 after rounding), the check's floor: the
    # worst case the hash must keep.
    noise = rng.normal(size=centred.shape)
    noise -= noise.mean(axis=1, keepdims=True)
    noise -= (noise * centred).sum(1, keepdims=True) / (centred ** 2).sum(1, keepdims=True) * centred
    noise *= np.linalg.norm(centred, axis=1, keepdims=True) / np.linalg.norm(noise, axis=1,
                                                                             keepdims=True)
    partner = 128 + 0.97 * centred + np.sqrt(1 - 0.97 ** 2) * noise
    original = duplicates.colour_hashes(np.clip(thumbnails, 0, 255).astype(np.uint8))
    near = duplicates.colour_hashes(np.clip(np.round(partner), 0, 255).astype(np.uint8))
    distances = duplicates.popcount(original ^ near)
    assert distances.max() <= duplicates.COLOUR_MAX_DISTANCE
    unrelated = duplicates.popcount(original ^ np.roll(original, 1))
    assert np.mean(unrelated > duplicates.COLOUR_MAX_DISTANCE) > 0.999


def test_the_hash_split_keeps_near_copy_groups_in_one_split_and_is_deterministic(tmp_path):
    root = tmp_path / "data"
    for label in ("a", "b"):
        for i in range(25):
            _write(root / label / f"{i}.jpg", encode(distinct_picture(seed_of(label, i))))
        for group in range(3):
            base = distinct_picture(5000 + group + (label == "b") * 100)
            _write(root / label / f"group{group}" / "base.jpg", encode(base))
            for name, make in COPIES.items():
                _write(root / label / f"group{group}" / name, make(base))
    first = run_executor(root, tmp_path / "first", split_ratio=DEFAULT_SPLIT_RATIO)
    second = run_executor(root, tmp_path / "second", split_ratio=DEFAULT_SPLIT_RATIO)

    def splits_of(uri):
        return {_feature(example, features.RELATIVE_PATH).decode(): split
                for split in ("train", "validation", "test")
                for example in _read(uri, split)}

    placed = splits_of(first.uri)
    assert placed == splits_of(second.uri)  # deterministic
    assert len(placed) == 2 * (25 + 3 * (1 + len(COPIES)))
    for label in ("a", "b"):
        for group in range(3):
            members = {split for path, split in placed.items()
                       if path.startswith(f"{label}/group{group}/")}
            assert len(members) == 1, (label, group, members)  # the whole group, one split
    assert len(set(placed.values())) == 3
    report = json.loads((tmp_path / "first" / features.LEAKAGE_REPORT_FILE).read_text())
    assert report["groups"] == 6 and report["near_copies_in_training"] == {}
    assert report["leakage"]["fraction"] == 0.0

    # inspect assigns the same splits without Beam.
    facts = inspect(PipelineConfig(data=str(root)), progress=False)
    counts = json.loads((tmp_path / "first" / features.QUARANTINE_REPORT_FILE).read_text())[
        "examples_per_split"]
    assert facts["images_per_split"] == counts
    assert facts["duplicates"]["groups"] == 6


def _read(uri, split):
    from test_image_example_gen import read_split

    return read_split(uri, split)


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    """train/ val/ test/ of distinct pictures, with near-copies of training images planted."""
    root = tmp_path_factory.mktemp("leaky") / "data"
    pictures = {}
    for split, count in (("train", 20), ("val", 5), ("test", 8)):
        for label in ("a", "b"):
            for i in range(count):
                picture = distinct_picture(seed_of(split, label, i))
                pictures[f"{split}/{label}/{i}.jpg"] = picture
                _write(root / split / label / f"{i}.jpg", encode(picture))
    planted = {  # (training image, its copy elsewhere)
        ("train/a/3.jpg", "test/a/leak1.jpg"): COPIES["recoded.jpg"],
        ("train/b/5.jpg", "test/b/leak2.png"): COPIES["copy.png"],
        ("train/a/7.jpg", "val/a/leak3.jpg"): COPIES["smaller.jpg"],
        ("train/a/9.jpg", "test/b/conflict.jpg"): COPIES["brighter.jpg"],  # another label
    }
    for (source, copy), make in planted.items():
        _write(root / copy, make(pictures[source]))
    return root, set(planted)


def test_the_leakage_report_lists_exactly_the_planted_pairs(leaky, tmp_path):
    root, planted = leaky
    run_executor(root, tmp_path / "out", max_leakage=1.0)
    report = json.loads((tmp_path / "out" / features.LEAKAGE_REPORT_FILE).read_text())
    pairs = {(p["training"], p["other"]) for p in report["cross_split_pairs"]}
    assert pairs == planted  # no false pairs among the distinct pictures
    assert report["near_copies_in_training"] == {"test": 3, "validation": 1}
    assert [(c["a"], c["b"]) for c in report["label_conflicts"]] == [
        ("train/a/9.jpg", "test/b/conflict.jpg")]
    evaluated = 2 * (5 + 8) + 4
    assert report["leakage"] == {"evaluated": evaluated, "with_near_copy_in_training": 4,
                                 "fraction": round(4 / evaluated, 4), "max_leakage": 1.0}
    assert len(all_splits(tmp_path / "out")) == 2 * 33 + 4
    with pytest.raises(LeakageError, match=r"4 of 30 validation and test images \(13.3%\)"):
        run_executor(root, tmp_path / "strict", max_leakage=0.05)


@pytest.mark.slow
def test_max_leakage_fails_the_run_and_inspect_reports_the_same(leaky, tmp_path):
    root, _ = leaky
    result = run_cli("run", "--data", str(root), "--output", str(tmp_path / "runs"),
                     "--max-leakage", "0.05", "--image-size", "32")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    message = [line for line in result.stderr.splitlines() if line.startswith("visionpipe:")]
    assert len(message) == 1 and "near-copy in training" in message[0]
    assert "--max-leakage 0.05" in message[0] and "leakage_report.json" in message[0]
    assert not (tmp_path / "runs" / "serving").exists()
    assert "layout: train/ + val/ + test/" in result.stdout

    inspected = run_cli("inspect", "--data", str(root), "--json")
    assert inspected.returncode == 0, inspected.stderr[-2000:]
    facts = json.loads(inspected.stdout)
    assert facts["classes"] == ["a", "b"] and facts["layout"] == "train/ + val/ + test/"
    assert facts["images_per_split"] == {"train": 40, "validation": 11, "test": 19}
    assert facts["leakage"]["fraction"] == round(4 / 30, 4)
    assert facts["duplicates"]["label_conflict_count"] == 1
    text = run_cli("inspect", "--data", str(root))
    assert "near-copies across splits: 4 of 30" in text.stdout


def test_the_perceptual_hash_is_imagehash_phash():
    """The hand-written pHash (OpenCV, for speed) agrees with the reference implementation."""
    imagehash = pytest.importorskip("imagehash")
    distances = []
    for seed in range(20):
        picture = distinct_picture(seed, size=(240, 180))
        info, pixels = decode_for_validation(encode(picture))
        ours = fingerprint(encode(picture), pixels, info.orientation).phash
        reference = int(str(imagehash.phash(Image.open(io.BytesIO(encode(picture))))), 16)
        distances.append(bin(ours ^ reference).count("1"))
    assert np.median(distances) <= 4, distances  # of 64 bits; near-copy threshold is 10
