"""StatisticsGen's executor: TFX's artifacts and TFDV's statistics, in three Beam stages.

TFX's executor applies `tfdv.GenerateStatistics` and a text sink to each split: 18 Beam
stages a split (telemetry counters, a placeholder for empty input, slice keys, feature
partitions, the sink's initialise, write and finalise), 54 for three splits. FnApiRunner
spends some 20-40 ms on a stage whatever its data, and those stages were most of
StatisticsGen's time, longer than the ExampleGen that read and decoded the images
(BENCHMARKS.md, issue 31). Here all the splits are one graph of three stages:

    (split, file) pairs -> each file's record batches (TFXIO) -> CombinePerKey(split) with
    TFDV's own CombineFn over its combiner generators -> each split's FeatureStats.pb

The statistics are TFDV's: the same generators (`stats_impl.get_generators`), wrapped in
the same CombineFn TFDV's Beam path uses (`_CombinerStatsGeneratorsCombineFn`, private to
TFDV; the stack is pinned, and tests/test_statistics_gen.py checks the result against TFX's
executor's on the same Examples). Beam lifts the combine into the read stage, so on
Dataflow, Flink or Spark each worker combines the files it reads and the merge moves only
accumulators. Anything this graph does not cover (a schema input, sampling, slicing,
feature partitions, an allowlist, sharded output, a generator that is a Beam transform, a
payload other than tf.Example) runs TFX's executor unchanged.
"""

from __future__ import annotations

import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tensorflow_data_validation.statistics import stats_impl, stats_options
from tensorflow_data_validation.statistics.generators import stats_generator
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.components.util import examples_utils, tfxio_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils, stats_utils
from tfx_bsl.tfxio import dataset_options

TELEMETRY = ["StatisticsGen"]
# Records a batch read from a file. TFDV's CombineFn gathers batches up to 1,000 examples
# or 20 MiB before its generators run, so a small batch costs nothing in speed and bounds
# what one read holds (32 phone photos of 4 MB are 128 MB).
READ_BATCH_SIZE = 32


def _combiners_only(options: stats_options.StatsOptions) -> bool:
    return all(isinstance(g, stats_generator.CombinerStatsGenerator)
               for g in stats_impl.get_generators(options))


def covers(input_dict: dict, exec_properties: dict[str, Any],
           options: stats_options.StatsOptions) -> bool:
    """Whether the three-stage graph computes what TFX's executor would for these inputs."""
    examples = artifact_utils.get_single_instance(
        input_dict[standard_component_specs.EXAMPLES_KEY])
    payload, data_view = tfxio_utils.resolve_payload_format_and_data_view_uri([examples])
    return (not input_dict.get(standard_component_specs.SCHEMA_KEY)
            and payload == example_gen_pb2.FORMAT_TF_EXAMPLE and data_view is None
            and not json_utils.loads(exec_properties.get(
                standard_component_specs.SAMPLE_RATE_BY_SPLIT_KEY) or "null")
            and not exec_properties.get(standard_component_specs.SHARDED_STATS_OUTPUT_KEY)
            and options.sample_rate is None and not options.feature_allowlist
            and not options.experimental_slice_functions
            and not options.experimental_slice_sqls and not options.slicing_config
            and options.experimental_num_feature_partitions == 1
            and not options.experimental_filter_read_paths and _combiners_only(options))


class _ReadRecordBatches(beam.DoFn):
    """(split, file) -> (split, record batch) for each READ_BATCH_SIZE records of the file,
    decoded by TFXIO as TFX's executor's BeamSource decodes them."""

    def __init__(self, file_format: str) -> None:
        self._file_format = file_format

    def process(self, element: tuple[str, str]):
        split, path = element
        tfxio = tfxio_utils.make_tfxio(
            file_pattern=path, telemetry_descriptors=TELEMETRY,
            payload_format=example_gen_pb2.FORMAT_TF_EXAMPLE, file_format=self._file_format)
        for batch in tfxio.RecordBatches(dataset_options.RecordBatchesOptions(
                batch_size=READ_BATCH_SIZE, drop_final_batch=False, num_epochs=1,
                shuffle=False)):
            yield split, batch


def _statistics_list(
        statistics: statistics_pb2.DatasetFeatureStatistics,
) -> statistics_pb2.DatasetFeatureStatisticsList:
    return statistics_pb2.DatasetFeatureStatisticsList(datasets=[statistics])


def _write(keyed: tuple[str, statistics_pb2.DatasetFeatureStatistics],
           paths: dict[str, str]) -> None:
    split, statistics = keyed
    io_utils.write_bytes_file(paths[split], _statistics_list(statistics).SerializeToString())


class Executor(tfx_executor.Executor):
    """TFX's StatisticsGen executor, with TFDV's statistics computed in three Beam stages
    where covers() says the result is the same."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        options = stats_options.StatsOptions()
        if exec_properties.get(standard_component_specs.STATS_OPTIONS_JSON_KEY):
            options = stats_options.StatsOptions.from_json(
                exec_properties[standard_component_specs.STATS_OPTIONS_JSON_KEY])
        if not covers(input_dict, exec_properties, options):
            super().Do(input_dict, output_dict, exec_properties)
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.EXAMPLES_KEY])
        output = output_dict[standard_component_specs.STATISTICS_KEY]
        splits = _splits(examples, exec_properties)
        _describe(artifact_utils.get_single_instance(output), examples, splits, options)
        paths = {split: os.path.join(artifact_utils.get_split_uri(output, split),
                                     tfx_executor.DEFAULT_FILE_NAME) for split in splits}
        files = []
        for split in splits:
            # TFDV writes empty statistics for a split without examples; so does this,
            # and the pipeline overwrites them for every split that has some.
            io_utils.write_bytes_file(paths[split], _statistics_list(
                statistics_pb2.DatasetFeatureStatistics()).SerializeToString())
            patterns, _ = tfxio_utils.get_file_format_and_patterns([examples], split)
            files += [(split, path) for pattern in patterns
                      for path in sorted(tf.io.gfile.glob(pattern))]
        combine = stats_impl._CombinerStatsGeneratorsCombineFn(  # noqa: SLF001 (see above)
            stats_impl.get_generators(options), options.desired_batch_size)
        with self._make_beam_pipeline() as pipeline:
            _ = (pipeline
                 | "Files" >> beam.Create(files)
                 | "ReadRecordBatches" >> beam.ParDo(
                     _ReadRecordBatches(examples_utils.get_file_format(examples)))
                 | "GenerateStatistics" >> beam.CombinePerKey(combine)
                 | "WriteStatistics" >> beam.Map(_write, paths=paths))


def _splits(examples, exec_properties: dict[str, Any]) -> list[str]:
    """The splits to describe: the Examples' less exclude_splits, as TFX's executor has it."""
    exclude = json_utils.loads(
        exec_properties.get(standard_component_specs.EXCLUDE_SPLITS_KEY) or "null") or []
    if not isinstance(exclude, list):
        raise ValueError(f"exclude_splits must be a list, got {type(exclude)}")
    if examples.has_custom_property(examples_utils.CUSTOM_SPLIT_PATTERN_PROPERTY_NAME):
        names = list(json_utils.loads(examples.get_string_custom_property(
            examples_utils.CUSTOM_SPLIT_PATTERN_PROPERTY_NAME)))
    else:
        names = artifact_utils.decode_split_names(examples.split_names)
    splits = [split for split in names if split not in exclude]
    if not splits:
        raise ValueError(f"No splits for examples artifact: {examples}")
    return splits


def _describe(statistics, examples, splits: list[str],
              options: stats_options.StatsOptions) -> None:
    """The properties TFX's executor sets on the statistics artifact (its Do, TFX 1.16)."""
    statistics.split_names = artifact_utils.encode_split_names(splits)
    statistics.span = examples.span
    statistics.set_string_custom_property(tfx_executor.STATS_DASHBOARD_LINK,
                                          stats_utils.generate_stats_dashboard_link(statistics))
    statistics.set_json_value_custom_property(
        tfx_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
        json_utils.dumps({split: options.sample_rate or 1.0 for split in splits}))
