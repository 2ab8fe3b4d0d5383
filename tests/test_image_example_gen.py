"""The image ExampleGen executor on a real temporary tree, on real Beam."""

import json
import os

import pytest
import tensorflow as tf
from conftest import image_bytes
from tfx.components.example_gen import write_split
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts

from components.common import features, label_vocabulary
from components.image_example_gen.component import executor_properties
from components.image_example_gen.executor import EmptyDataError, Executor
from components.image_example_gen.ingest import (
    CHUNK_BYTES,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    MIN_CHUNKS,
    chunked,
)
from components.image_example_gen.layout import WHOLE_TREE
from components.image_example_gen.options import IngestOptions
from components.image_example_gen.sources import image_folder


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def messy_tree(tmp_path):
    """Two classes with every kind of file the ExampleGen must handle."""
    root = tmp_path / "data"
    for i in range(12):
        _write(root / "cat" / f"cat_{i}.jpg", image_bytes("JPEG", seed=i))
        _write(root / "dog" / f"dog_{i}.png", image_bytes("PNG", seed=100 + i))
    _write(root / "cat" / "rgba.png", image_bytes("PNG", "RGBA"))
    _write(root / "cat" / "grey.jpg", image_bytes("JPEG", "L"))
    _write(root / "cat" / "UPPER.JPEG", image_bytes("JPEG", seed=7))
    _write(root / "dog" / "nested" / "deeper" / "pup.Png", image_bytes("PNG", seed=8))
    _write(root / "dog" / "anim.gif", image_bytes("GIF", "P"))
    _write(root / "dog" / "zero.jpg", b"")
    truncated = image_bytes("JPEG", seed=9)
    _write(root / "cat" / "truncated.jpg", truncated[: len(truncated) // 2])
    _write(root / "dog" / "text.jpg", b"not an image")
    _write(root / "dog" / "notes.txt", b"a note")
    _write(root / "cat" / ".DS_Store", b"\x00")
    _write(root / "README.md", b"# data")
    return root


SMALL_TREE_RATIO = (50, 25, 25)  # a few dozen images: every split gets some


def run_executor(input_base, output_dir, class_names=(), split_ratio=SMALL_TREE_RATIO,
                 **options):
    """Runs the executor on the layout the folder source finds, as the pipeline does."""
    examples = standard_artifacts.Examples()
    examples.uri = str(output_dir)
    layout = image_folder.discover(str(input_base), split_ratio=split_ratio)
    exec_properties = executor_properties(
        str(input_base), layout.inputs,
        options=IngestOptions(class_names=tuple(class_names), **options))
    context = BaseBeamExecutor.Context(beam_pipeline_args=["--runner=FnApiRunner"])
    Executor(context).Do({}, {"examples": [examples]}, exec_properties)
    return examples


def all_splits(examples_dir):
    return [e for split in ("train", "validation", "test") for e in read_split(examples_dir, split)]


def read_split(examples_dir, split):
    files = tf.io.gfile.glob(os.path.join(examples_dir, f"Split-{split}", "*"))
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _feature(example, key):
    feature = example.features.feature[key]
    values = feature.bytes_list.value or feature.int64_list.value
    return values[0]


def test_messy_tree_becomes_examples_quarantine_and_vocabulary(messy_tree, tmp_path):
    output = tmp_path / "examples"
    artifact = run_executor(messy_tree, output)

    examples = all_splits(output)
    paths = {_feature(e, features.RELATIVE_PATH).decode(): e for e in examples}
    assert len(examples) == 12 + 12 + 5  # the good ones, nested and upper-case included
    assert "dog/nested/deeper/pup.Png" in paths and "cat/UPPER.JPEG" in paths
    rgba = paths["cat/rgba.png"]
    assert _feature(rgba, features.CHANNELS) == 4
    assert _feature(rgba, features.FORMAT) == b"png"
    assert _feature(paths["cat/grey.jpg"], features.CHANNELS) == 1
    assert _feature(paths["dog/anim.gif"], features.FORMAT) == b"gif"
    # Encoded bytes are kept as they were in the file, never decoded pixels.
    assert _feature(paths["cat/cat_0.jpg"], features.IMAGE_BYTES) == image_bytes("JPEG", seed=0)
    assert {_feature(e, features.LABEL) for e in examples if
            _feature(e, features.LABEL_NAME) == b"dog"} == {1}

    report = json.loads((output / features.QUARANTINE_REPORT_FILE).read_text())
    reasons = {entry["path"]: entry["reason"] for entry in report["quarantined"]}
    assert set(reasons) == {"dog/zero.jpg", "cat/truncated.jpg", "dog/text.jpg"}
    assert "empty" in reasons["dog/zero.jpg"]
    assert "truncated" in reasons["cat/truncated.jpg"]
    assert "not an image" in reasons["dog/text.jpg"]
    ignored = {entry["path"] for entry in report["ignored"]}
    assert ignored == {"dog/notes.txt", "cat/.DS_Store", "README.md"}
    assert report["quarantined_count"] == 3
    assert sum(report["examples_per_split"].values()) == len(examples)
    assert report["examples_per_split"]["train"] == len(read_split(output, "train"))

    assert (output / label_vocabulary.FILE_NAME).read_text() == "cat\ndog\n"
    assert artifact.get_int_custom_property("quarantined_count") == 3
    assert not (output / ".parts").exists()  # what waited between the passes is gone


def test_hash_split_is_deterministic_and_near_the_ratio(messy_tree, tmp_path):
    first = run_executor(messy_tree, tmp_path / "a")
    second = run_executor(messy_tree, tmp_path / "b")
    names = lambda uri, split: sorted(  # noqa: E731
        _feature(e, features.RELATIVE_PATH) for e in read_split(uri, split))
    for split in ("train", "validation", "test"):
        assert names(first.uri, split) == names(second.uri, split)
    assert 0 < len(names(first.uri, "validation")) < len(names(first.uri, "train"))
    assert 0 < len(names(first.uri, "test")) < len(names(first.uri, "train"))


@pytest.mark.parametrize("folders, carved", [
    (("train", "validation"), False),  # every input has one role: written as read
    (("train", "test"), True),  # validation carved from train/ by the group-aware hash
])
def test_users_own_split_folders_are_used(tmp_path, folders, carved):
    root = tmp_path / "data"
    for split, count in zip(folders, (6, 3), strict=True):
        for cls in ("a", "b"):
            for i in range(count):  # every picture its own: no leak across the splits
                seed = len(split) * 1000 + ord(cls) * 10 + i
                _write(root / split / cls / f"{i}.jpg", image_bytes(seed=seed))
    assert image_folder.find_split_folders(str(root)) == {name: name for name in folders}
    output = tmp_path / "out"
    run_executor(root, output)
    paths = {split: [_feature(e, features.RELATIVE_PATH).decode()
                     for e in read_split(output, split)]
             for split in ("train", "validation", "test")}
    every = [path for split_paths in paths.values() for path in split_paths]
    assert len(every) == len(set(every)) == 18  # each image once
    held_out = folders[1]
    assert sorted(paths[held_out]) == sorted(
        f"{held_out}/{cls}/{i}.jpg" for cls in ("a", "b") for i in range(3))
    assert all(path.startswith("train/") for split in ("train", "validation")
               if split != held_out for path in paths[split])
    # The held-out folder's images were written in the first pass, as they were read; only
    # a hash-split train/ waits for the duplicate groups and is written after them.
    written_after = {path.parent.name for path in output.glob(
        f"Split-*/{write_split.DEFAULT_TF_RECORD_FILE_NAME}-[0-9]*")}
    assert written_after == ({"Split-train", "Split-validation"} if carved else set())


def test_only_corrupt_files_is_a_clear_error(tmp_path):
    root = tmp_path / "data"
    _write(root / "a" / "x.jpg", b"")
    _write(root / "b" / "y.jpg", b"junk")
    with pytest.raises(EmptyDataError, match="no readable images"):
        run_executor(root, tmp_path / "out", class_names=("a", "b"))


def test_symlink_loop_is_reported_not_followed_forever(tmp_path):
    root = tmp_path / "data"
    _write(root / "a" / "1.jpg", image_bytes())
    os.symlink(root / "a", root / "a" / "loop")
    listing = image_folder.list_split(str(root), WHOLE_TREE)
    assert [(item.id, item.class_name) for item in listing.items] == [("a/1.jpg", "a")]
    assert any("symlink loop" in entry["reason"] for entry in listing.ignored)


def test_fingerprint_sees_changes_in_nested_folders(tmp_path):
    root = tmp_path / "data"
    _write(root / "a" / "deep" / "1.jpg", image_bytes(seed=1))
    before = image_folder.tree_fingerprint(str(root), [WHOLE_TREE])
    _write(root / "a" / "deep" / "2.jpg", image_bytes(seed=2))
    assert image_folder.tree_fingerprint(str(root), [WHOLE_TREE]) != before


def test_unicode_and_space_names_and_a_one_image_class(tmp_path):
    root = tmp_path / "data"
    for i in range(6):
        _write(root / "chat noir" / f"photo {i} é.jpg", image_bytes("JPEG", seed=i))
    _write(root / "ünïcode" / "只有一个.png", image_bytes("PNG", seed=50))
    output = tmp_path / "examples"
    run_executor(root, output)
    examples = all_splits(output)
    paths = {_feature(e, features.RELATIVE_PATH).decode() for e in examples}
    assert "ünïcode/只有一个.png" in paths and "chat noir/photo 0 é.jpg" in paths
    assert (output / label_vocabulary.FILE_NAME).read_text(encoding="utf-8") == \
        "chat noir\nünïcode\n"


def test_part_files_pass_every_element_once_and_ignore_a_failed_attempts_file(tmp_path):
    """What waits between the passes comes back exactly once: only the files of committed
    bundles are read, not one a failed bundle attempt left behind."""
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from components.image_example_gen.part_files import WritePartFiles, read_part_file

    prefix = str(tmp_path / "parts" / "records")
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "records-failedattempt").write_bytes(b"\x80\x05K\x07.")  # pickled 7
    elements = [[i, f"item {i}"] for i in range(500)]
    with beam.Pipeline(argv=["--runner=FnApiRunner"]) as pipeline:
        read_back = (pipeline | beam.Create(elements)
                     | beam.ParDo(WritePartFiles(prefix)) | beam.FlatMap(read_part_file))
        assert_that(read_back, equal_to(elements))


def test_only_committed_bundles_files_reach_the_splits(tmp_path):
    """The Examples files of a bundle attempt that did not commit (a file left in the
    temporary folder) are never moved into a split, and the folder is gone after the run;
    every image is written once."""
    root = tmp_path / "data"
    for cls in ("a", "b"):
        for i in range(8):
            _write(root / cls / f"{i}.jpg", image_bytes(seed=ord(cls) * 100 + i))
    output = tmp_path / "out"
    stray = output / ".parts" / "examples" / "failedattempt.gz"
    stray.parent.mkdir(parents=True)
    example = tf.train.Example()
    example.features.feature[features.RELATIVE_PATH].bytes_list.value.append(b"stray.jpg")
    with tf.io.TFRecordWriter(str(stray), "GZIP") as writer:
        writer.write(example.SerializeToString())
    run_executor(root, output)
    paths = [_feature(e, features.RELATIVE_PATH).decode() for e in all_splits(output)]
    assert sorted(paths) == sorted(f"{cls}/{i}.jpg" for cls in ("a", "b") for i in range(8))
    assert not (output / ".parts").exists()


def test_chunks_of_large_images_hold_about_chunk_bytes(tmp_path):
    # Chunks are sized by the images' stored sizes, so a chunk of phone photos does not hold
    # hundreds of them in memory; small photos go in the largest chunks, yet a small data
    # set is still cut in MIN_CHUNKS; an unreadable file counts as empty (reading it
    # quarantines it).
    def chunks_of(name: str, count: int, size: int) -> list[list]:
        root = tmp_path / name
        (root / "a").mkdir(parents=True)
        for i in range(count):  # sparse files: only their sizes are read
            with open(root / "a" / f"{i:03d}.jpg", "wb") as file:
                file.truncate(size)
        entries = [(i, image_folder.Item(f"a/{i:03d}.jpg", "a"), "all") for i in range(count)]
        return chunked(entries, image_folder.SOURCE, str(root))

    many = MIN_CHUNKS * MAX_CHUNK_SIZE + 5
    large = chunks_of("large", 200, CHUNK_BYTES // 8)
    assert [len(chunk) for chunk in large] == [8] * 25
    assert [entry[0] for chunk in large for entry in chunk] == list(range(200))  # in order
    small = chunks_of("small", many, 1000)
    assert [len(chunk) for chunk in small] == [MAX_CHUNK_SIZE] * MIN_CHUNKS + [5]
    few = chunks_of("few", 300, 1000)  # still MIN_CHUNKS chunks, for the pool's threads
    assert len(few) == MIN_CHUNKS and max(len(chunk) for chunk in few) == 19
    assert len(chunks_of("huge", 5, CHUNK_BYTES)[0]) == MIN_CHUNK_SIZE
    missing = [(0, image_folder.Item("gone.jpg", "a"), "all")]
    assert chunked(missing, image_folder.SOURCE, str(tmp_path)) == [missing]
