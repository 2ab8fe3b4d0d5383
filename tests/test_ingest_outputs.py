"""The ExampleGen's outputs do not change when it gets faster: the same Examples (ids, labels,
splits, image bytes identical to the files), the same duplicate groups and leakage figures.

On a fixed generated set (class folders, hash-split, with near-copies planted inside a split
and across classes, a PNG copy, a grey and an EXIF-rotated JPEG), the executor's outputs are
compared with GOLDEN, the digests the ExampleGen wrote before its speed work (issue 31: the
stage of the work that landed as 042fe7b just before it, whose commit is not in the
history). A change to what is written, how it is split or what the search finds fails here.
"""

import hashlib
import io
import json
import zlib

import tensorflow as tf
from PIL import Image
from test_duplicates import distinct_picture
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts

from components.common import features
from components.image_example_gen.component import executor_properties
from components.image_example_gen.executor import Executor
from components.image_example_gen.sources.image_folder import discover
from pipeline.config import DEFAULT_BEAM_ARGS

# Digests of the sorted (split, path, label, sha256 of the image bytes) rows, and of the
# duplicate report's groups and leakage figures, as written before the speed work.
GOLDEN = {"examples": "1311697329b816c35d34defc18279aaac3f1330a9d76fb439d62156244c684aa",
          "duplicates": "bd7729e27a59db2e58f0ac7b8f019fda1ddc8b9d27ec1c09980a66521e4284f6"}


def _jpeg(picture: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90, **kwargs)
    return buffer.getvalue()


def generated_set(root):
    """Two classes of 60 pictures each, and the copies and odd files the module doc lists."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(60):
            seed = zlib.crc32(f"{label}/{i}".encode())
            (root / label / f"{i}.jpg").write_bytes(_jpeg(distinct_picture(seed)))
    source = distinct_picture(zlib.crc32(b"a/3"))
    (root / "a" / "copy-smaller.jpg").write_bytes(_jpeg(source.resize((96, 72))))
    (root / "b" / "copy-other-label.png").write_bytes(
        (lambda b: (source.save(b, "PNG"), b.getvalue())[1])(io.BytesIO()))
    (root / "a" / "grey.jpg").write_bytes(_jpeg(distinct_picture(7).convert("L")))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    (root / "b" / "rotated.jpg").write_bytes(_jpeg(distinct_picture(8), exif=exif.tobytes()))
    return root


def written(data, out) -> tuple[list[tuple], dict]:
    """(rows of (split, path, label, sha256 of the image bytes), the leakage report)."""
    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    Executor(BaseBeamExecutor.Context(beam_pipeline_args=list(DEFAULT_BEAM_ARGS))).Do(
        {}, {"examples": [examples]}, executor_properties(str(data), discover(str(data)).inputs))
    rows = []
    for split_dir in sorted(out.glob("Split-*")):
        files = [str(p) for p in split_dir.iterdir()]
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            rows.append((split_dir.name, feature[features.RELATIVE_PATH].bytes_list.value[0].decode(),
                         feature[features.LABEL_NAME].bytes_list.value[0].decode(),
                         feature[features.IMAGE_BYTES].bytes_list.value[0]))
    report = json.loads((out / features.LEAKAGE_REPORT_FILE).read_text())
    return sorted(rows), report


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def test_the_examples_and_the_duplicate_findings_are_the_golden_ones(tmp_path):
    data = generated_set(tmp_path / "data")
    rows, report = written(data, tmp_path / "out")
    for _, path, _, image in rows:  # byte-identical to the file (the EXIF one is re-encoded)
        if path != "b/rotated.jpg":
            assert image == (data / path).read_bytes(), path
    assert len(rows) == 124
    assert report["groups"] == 1 and report["label_conflict_count"] == 2  # the copies found
    examples = _digest([(s, p, label, hashlib.sha256(b).hexdigest()) for s, p, label, b in rows])
    duplicates = _digest({"groups": report["groups"], "leakage": report["leakage"],
                          "largest_groups": report["largest_groups"],
                          "label_conflicts": report["label_conflicts"]})
    assert {"examples": examples, "duplicates": duplicates} == GOLDEN


def test_the_jpeg_header_reader_agrees_with_pil_or_leaves_the_file_to_it():
    from components.image_example_gen import jpeg_header

    picture = distinct_picture(1, (64, 48))
    assert jpeg_header.read(_jpeg(picture)) == (64, 48, 1)
    assert jpeg_header.read(_jpeg(picture, progressive=True)) == (64, 48, 1)
    exif = Image.Exif()
    exif[0x0112] = 8
    assert jpeg_header.read(_jpeg(picture, exif=exif.tobytes())) == (64, 48, 8)
    # Big-endian EXIF (cameras write both): the same tag read the other way round.
    tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x03\x00\x00"
    segment = b"Exif\x00\x00" + tiff + b"\x00\x00\x00\x00"
    app1 = b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment
    data = _jpeg(picture)
    assert jpeg_header.read(data[:2] + app1 + data[2:]) == (64, 48, 3)
    assert jpeg_header.read(data[:2] + b"\x00garbage") is None  # PIL gives the verdict
    assert jpeg_header.read(data[:40]) is None  # truncated before the frame header
