"""New data on a schedule: with span-1/ and span-2/ present, a run ingests the newest span."""

import json

import tensorflow as tf

from components.image_example_gen.sources.image_folder import split_span_path


def test_split_span_path():
    assert split_span_path("gs://bucket/images/span-{SPAN}/") == ("gs://bucket/images", "span-{SPAN}")
    assert split_span_path("/data/{SPAN}/v{VERSION}") == ("/data", "{SPAN}/v{VERSION}")


def test_a_run_ingests_the_latest_span(span_run):
    result = span_run["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((span_run["run_dir"] / "summary.json").read_text())
    assert sum(summary["examples_per_split"].values()) == 3 * 14
    examples_dir = sorted((span_run["run_dir"] / "artifacts" / "ImageExampleGen" /
                           "examples").iterdir())[-1]
    files = tf.io.gfile.glob(str(examples_dir / "Split-*" / "*"))
    paths = {tf.train.Example.FromString(r.numpy()).features.feature["relative_path"]
             .bytes_list.value[0].decode()
             for r in tf.data.TFRecordDataset(files, compression_type="GZIP")}
    assert len(paths) == 42 and all(p.startswith("span-2/") for p in paths)
