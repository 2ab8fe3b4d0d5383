"""CSV pixel rows (Sign Language MNIST format) through the real ExampleGen: good rows and bad ones."""

import gzip
import json

import numpy as np
import pytest
import tensorflow as tf
from test_image_example_gen import all_splits, read_split
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts

from components.common import features, label_vocabulary
from components.image_example_gen.component import executor_properties
from components.image_example_gen.executor import Executor
from components.image_example_gen.layout import DataError
from components.image_example_gen.options import IngestOptions, parse_shape
from components.image_example_gen.sources.pixel_csv import discover as csv_layout

SHAPE = (4, 3, 1)  # tiny rows: 12 pixels


def _row(label, pixels) -> str:
    return ",".join([str(label), *[str(p) for p in pixels]])


def _good(label: int, seed: int) -> str:
    return _row(label, np.random.default_rng(seed).integers(0, 256, 12))


def _csv(path, rows, header=True, gz=False):
    text = ("label," + ",".join(f"pixel{i}" for i in range(1, 13)) + "\n" if header else "")
    text += "\n".join(rows) + "\n"
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _run(layout, output_dir, class_names):
    examples = standard_artifacts.Examples()
    examples.uri = str(output_dir)
    exec_properties = executor_properties(
        layout.input_base, layout.inputs,
        options=IngestOptions(class_names=tuple(class_names), data_format="csv", image_shape=SHAPE))
    Executor(BaseBeamExecutor.Context(beam_pipeline_args=["--runner=FnApiRunner"])).Do(
        {}, {"examples": [examples]}, exec_properties)
    return examples


def test_good_rows_become_pngs_and_bad_rows_are_quarantined_with_reasons(tmp_path):
    # Sparse labels as in sign MNIST: 0, 2 and 10 (no 1): three classes, ids by vocabulary.
    good = [_good(label, i) for i, label in enumerate([0, 2, 10] * 10)]
    bad = [
        _row(2, range(11)),  # one value short
        _row(0, ["x"] + [0] * 11),  # non-numeric
        _row(10, [300] + [0] * 11),  # out of range
        _row(0, [-1] + [0] * 11),  # negative
    ]
    path = _csv(tmp_path / "sign.csv.gz", good[:15] + bad + [""] + good[15:], gz=True)
    layout = csv_layout(str(path))
    assert layout.class_names == ["0", "2", "10"]  # numeric order, labels kept as given
    examples = _run(layout, tmp_path / "out", layout.class_names)

    rows = all_splits(examples.uri)
    assert len(rows) == 30
    for example in rows:
        feature = example.features.feature
        name = feature[features.LABEL_NAME].bytes_list.value[0].decode()
        assert feature[features.LABEL].int64_list.value[0] == layout.class_names.index(name)
        image = tf.io.decode_png(feature[features.IMAGE_BYTES].bytes_list.value[0])
        assert image.shape == (4, 3, 1)
    # The pixels survive exactly: the first good row, found by its row id (line 2).
    first = next(e for e in rows
                 if e.features.feature[features.RELATIVE_PATH].bytes_list.value[0] == b"sign.csv.gz:2")
    pixels = tf.io.decode_png(first.features.feature[features.IMAGE_BYTES].bytes_list.value[0])
    expected = np.array(good[0].split(",")[1:], dtype=np.uint8).reshape(4, 3, 1)
    np.testing.assert_array_equal(pixels.numpy(), expected)

    report = json.loads((tmp_path / "out" / features.QUARANTINE_REPORT_FILE).read_text())
    reasons = [entry["reason"] for entry in report["quarantined"]]
    assert report["quarantined_count"] == 4
    assert any("11 pixel values, expected 12" in r for r in reasons)
    assert any("non-numeric" in r for r in reasons)
    assert sum("between 0 and 255" in r for r in reasons) == 2
    assert report["ignored"] == [{"path": "sign.csv.gz:21", "reason": "blank line"}]
    vocabulary = (tmp_path / "out" / label_vocabulary.FILE_NAME).read_text().split()
    assert vocabulary == ["0", "2", "10"]


def test_a_train_csv_and_a_test_csv_are_the_splits(tmp_path):
    train = _csv(tmp_path / "train.csv", [_good(i % 2, i) for i in range(40)])
    test = _csv(tmp_path / "test.csv", [_good(i % 2, 100 + i) for i in range(4)], header=False)
    layout = csv_layout(str(train), test_data=str(test))
    assert layout.roles == ["train", "validation", "test"] and layout.blessing_split == "test"
    examples = _run(layout, tmp_path / "out", layout.class_names)
    # Validation is hash-split out of the training CSV; the test CSV is the test split.
    train_rows, validation_rows = (read_split(examples.uri, s) for s in ("train", "validation"))
    assert len(train_rows) + len(validation_rows) == 40 and 0 < len(validation_rows) < 20
    assert len(read_split(examples.uri, "test")) == 4  # no header: every line is data

    validation = _csv(tmp_path / "validation.csv", [_good(i % 2, 200 + i) for i in range(6)])
    layout = csv_layout(str(train), str(validation))
    assert layout.roles == ["train", "validation"] and layout.blessing_split == "validation"
    assert any("no test split" in warning for warning in layout.warnings)


def test_unusable_csvs_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        csv_layout(str(tmp_path / "missing.csv"))
    one_class = _csv(tmp_path / "one.csv", [_good(3, i) for i in range(5)])
    with pytest.raises(DataError, match="only one class"):
        csv_layout(str(one_class))


def test_parse_shape():
    assert parse_shape("28x28x1") == (28, 28, 1)
    assert parse_shape("28x28") == (28, 28, 1)
    with pytest.raises(ValueError, match="HxWxC"):
        parse_shape("28x28x2")
