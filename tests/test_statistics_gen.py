"""StatisticsGen's three-stage executor gives TFX's executor's statistics, empty splits and
options it does not cover included."""

import pytest
import tensorflow_data_validation as tfdv
from absl.testing import absltest
from conftest import image_bytes, write_examples, written_example
from tensorflow_data_validation.utils import test_util
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from components.common.features import LABEL
from components.statistics_gen import executor
from components.statistics_gen.options import statistics_options
from pipeline.config import DEFAULT_BEAM_ARGS
from pipeline.data_tools.demo import CLASSES

SPLITS = ("train", "validation", "test")


def _examples(uri) -> standard_artifacts.Examples:
    examples = standard_artifacts.Examples()
    examples.uri = str(uri)
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples.set_string_custom_property("file_format", "tfrecords_gzip")
    return examples


def _statistics(executor_class, examples, out, options=None) -> dict:
    """Each split's statistics, and the artifact, as executor_class computes them."""
    output = standard_artifacts.ExampleStatistics()
    output.uri = str(out)
    executor_class(BaseBeamExecutor.Context(beam_pipeline_args=list(DEFAULT_BEAM_ARGS))).Do(
        {"examples": [examples]}, {"statistics": [output]},
        {"exclude_splits": "[]",
         "stats_options_json": (options or statistics_options()).to_json()})
    return {"artifact": output, **{split: tfdv.load_stats_binary(
        str(out / f"Split-{split}" / tfx_executor.DEFAULT_FILE_NAME)) for split in SPLITS}}


def _ties_sorted(statistics) -> None:
    """Values of equal count in the top values and rank histograms by label: TFDV's sketch
    leaves their order to the order the examples were combined in."""
    for dataset in statistics.datasets:
        for feature in dataset.features:
            string = feature.string_stats
            ordered = sorted(string.top_values, key=lambda v: (-v.frequency, v.value))
            del string.top_values[:]
            string.top_values.extend(ordered)
            buckets = sorted(string.rank_histogram.buckets,
                             key=lambda b: (-b.sample_count, b.label))
            del string.rank_histogram.buckets[:]
            for rank, bucket in enumerate(buckets):
                bucket.low_rank = bucket.high_rank = rank
            string.rank_histogram.buckets.extend(buckets)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """Examples as the ExampleGen writes them, two files in train, an empty file in test."""
    root = tmp_path_factory.mktemp("examples")
    written = [written_example(f"{CLASSES[i % 3]}/{i}.jpg", CLASSES[i % 3], i % 3,
                               image_bytes(size=(24 + i % 7, 20 + i % 5), seed=i))
               for i in range(45)]
    write_examples(root / "Split-train" / "data-0.gz", written[:20])
    write_examples(root / "Split-train" / "data-1.gz", written[20:35])
    write_examples(root / "Split-validation" / "data-0.gz", written[35:])
    write_examples(root / "Split-test" / "data-0.gz", [])
    return _examples(root)


@pytest.fixture(scope="module")
def both(examples, tmp_path_factory):
    out = tmp_path_factory.mktemp("statistics")
    return {"ours": _statistics(executor.Executor, examples, out / "ours"),
            "tfx": _statistics(tfx_executor.Executor, examples, out / "tfx")}


@pytest.mark.parametrize("split", SPLITS)
def test_each_splits_statistics_are_tfx_executors(both, split):
    ours, theirs = both["ours"][split], both["tfx"][split]
    assert len(ours.datasets) == len(theirs.datasets) == 1
    _ties_sorted(ours)
    _ties_sorted(theirs)
    test_util.assert_dataset_feature_stats_proto_equal(
        absltest.TestCase(), ours.datasets[0], theirs.datasets[0])
    assert ours.datasets[0].num_examples == {"train": 35, "validation": 10, "test": 0}[split]


def test_the_artifact_carries_tfx_executors_properties(both):
    ours, theirs = both["ours"]["artifact"], both["tfx"]["artifact"]
    assert ours.split_names == theirs.split_names
    assert ours.span == theirs.span
    for name in (tfx_executor.STATS_DASHBOARD_LINK,
                 tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME):
        assert ours.get_custom_property(name) == theirs.get_custom_property(name)


def test_options_the_graph_does_not_cover_run_tfx_executor(examples, tmp_path):
    options = statistics_options()
    options.feature_allowlist = [LABEL]
    assert not executor.covers({"examples": [examples]}, {}, options)
    statistics = _statistics(executor.Executor, examples, tmp_path, options)
    assert [f.path.step for f in statistics["train"].datasets[0].features] == [[LABEL]]
    assert statistics["train"].datasets[0].num_examples == 35
