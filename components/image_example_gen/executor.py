"""The image ExampleGen's Beam executor: read, validate, and encode each image as a tf.train.Example.

Files are listed on the launcher (cheap), then read and decoded in parallel by Beam.
Every file is decoded exactly once, to validate it; the Example keeps the original
encoded bytes. Unreadable files go to a side output and end up, with their reason,
in the quarantine report inside the Examples artifact.
"""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor, write_split
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import features, label_vocabulary
from components.image_example_gen import sources
from components.image_example_gen.options import IngestOptions
from components.image_example_gen.validation import InvalidImage, inspect_image, upright
from components.image_example_gen.write import WriteExamplesSplit

INGEST_OPTIONS_KEY = "ingest_options"
_QUARANTINE = "quarantine"
_PARTS_DIR = ".quarantine_parts"
_CHUNK_SIZE = 32
_SHUFFLE_SEED = 0


class EmptyDataError(ValueError):
    """The input holds no usable images for a split, or fewer than two classes."""


def image_example(relative_path: str, class_name: str, label: int, data: bytes, info) -> tf.train.Example:
    """The tf.train.Example for one validated image (encoded bytes, label and what validation found)."""

    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _int(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(
        features=tf.train.Features(
            feature={
                features.IMAGE_BYTES: _bytes(data),
                features.LABEL: _int(label),
                features.LABEL_NAME: _bytes(class_name.encode()),
                features.RELATIVE_PATH: _bytes(relative_path.encode()),
                features.HEIGHT: _int(info.height),
                features.WIDTH: _int(info.width),
                features.CHANNELS: _int(info.channels),
                features.FORMAT: _bytes(info.format.encode()),
            }
        )
    )


class _ReadAndValidate(beam.DoFn):
    """A chunk of items -> tf.train.Examples, or quarantine records with the reason.

    Chunks, not single items: a small thread pool decodes the files of a chunk in
    parallel (TensorFlow's decoder releases the GIL), and Beam pays its per-element
    cost once per chunk instead of once per image.
    """

    def __init__(self, input_base: str, label_ids: dict[str, int], options: IngestOptions):
        self._input_base = input_base
        self._label_ids = label_ids
        self._options = options
        self._read = beam.metrics.Metrics.counter("visionpipe", "images_read")
        self._quarantined = beam.metrics.Metrics.counter("visionpipe", "images_quarantined")
        self._pool: ThreadPoolExecutor | None = None
        self._source: sources.Source | None = None

    def setup(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        self._source = sources.source(self._options.data_format)

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def _convert(self, item: sources.Item) -> tf.train.Example | dict[str, str]:
        """One item -> Example, or {path, reason}."""
        try:
            data = self._source.read(self._input_base, item, self._options.image_shape)
            data, info = upright(data, inspect_image(data, self._options.max_pixels))
        except (InvalidImage, sources.UnreadableItem, OSError, tf.errors.OpError) as error:
            reason = error.message if isinstance(error, tf.errors.OpError) else str(error)
            return {"path": item.id, "reason": reason}
        return image_example(item.id, item.class_name, self._label_ids[item.class_name], data, info)

    def process(self, chunk: list[sources.Item]):
        for result in self._pool.map(self._convert, chunk):
            if isinstance(result, dict):
                self._quarantined.inc()
                yield beam.pvalue.TaggedOutput(_QUARANTINE, result)
            else:
                self._read.inc()
                yield result


@beam.ptransform_fn
def ReadImages(pipeline, listing: sources.Listing, input_base: str,  # noqa: N802 - a PTransform
               label_ids: dict[str, int], options: IngestOptions, quarantine_prefix: str):
    """The listing's items -> validated Examples; unreadable ones go to quarantine files."""
    results = (
        pipeline
        # Create reshuffles its elements, so the chunks spread over workers.
        | "ListFiles" >> beam.Create(_chunks(listing.items))
        | "ReadAndValidate" >> beam.ParDo(
            _ReadAndValidate(input_base, label_ids, options)
        ).with_outputs(_QUARANTINE, main="examples")
    )
    _ = (
        results[_QUARANTINE]
        | "ToJson" >> beam.Map(json.dumps)
        | "WriteQuarantine" >> beam.io.WriteToText(quarantine_prefix)
    )
    return results.examples


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Lists the images, converts them with Beam, then writes the vocabulary and quarantine report."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        options = IngestOptions.from_json(exec_properties.get(INGEST_OPTIONS_KEY))
        source = sources.source(options.data_format)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
        )
        listings = {split.pattern: source.list_split(input_base, split.pattern)
                    for split in input_config.splits}
        class_names = list(options.class_names) or sources.sort_class_names(
            item.class_name for listing in listings.values() for item in listing.items
        )
        if len(class_names) < 2:
            raise EmptyDataError(
                f"{input_base}: found {len(class_names)} class folder(s) with images "
                f"({', '.join(class_names) or 'none'}); a classifier needs at least 2"
            )
        label_ids = {name: i for i, name in enumerate(class_names)}
        for listing in listings.values():
            unknown = sorted({item.class_name for item in listing.items} - set(label_ids))
            if unknown:
                raise EmptyDataError(f"class(es) {', '.join(unknown)} are not in the label "
                                     f"vocabulary {class_names}")
        parts_dir = os.path.join(examples.uri, _PARTS_DIR)

        examples.split_names = artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config, output_config))
        output_examples = output_dict[standard_component_specs.EXAMPLES_KEY]
        with self._make_beam_pipeline() as pipeline:
            for split in _output_splits(pipeline, listings, input_base, label_ids, options,
                                        input_config, output_config, parts_dir):
                name, collection = split
                _ = collection | f"WriteSplit[{name}]" >> WriteExamplesSplit(
                    artifact_utils.get_split_uri(output_examples, name))
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))

        quarantined = _read_parts(parts_dir)
        ignored = [entry for listing in listings.values() for entry in listing.ignored]
        split_counts = _count_splits(listings, quarantined, input_config, output_config)
        report = {
            "input_base": input_base,
            "class_names": class_names,
            "examples_per_split": split_counts,
            "quarantined_count": len(quarantined),
            "ignored_count": len(ignored),
            "quarantined": sorted(quarantined, key=lambda e: e["path"]),
            "ignored": ignored,
        }
        write_text(os.path.join(examples.uri, features.QUARANTINE_REPORT_FILE),
                   json.dumps(report, indent=2))
        label_vocabulary.write(os.path.join(examples.uri, label_vocabulary.FILE_NAME), class_names)
        examples.set_string_custom_property(features.CLASS_NAMES_PROPERTY, json.dumps(class_names))
        examples.set_string_custom_property(features.EXAMPLES_PER_SPLIT_PROPERTY,
                                            json.dumps(split_counts))
        examples.set_int_custom_property(features.QUARANTINED_PROPERTY, len(quarantined))
        examples.set_int_custom_property(features.IGNORED_PROPERTY, len(ignored))
        empty = [name for name, count in split_counts.items() if count == 0]
        if empty:
            raise EmptyDataError(
                f"{input_base}: no readable images in split(s) {', '.join(empty)} "
                f"({len(quarantined)} file(s) quarantined, see {features.QUARANTINE_REPORT_FILE})"
            )

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """Unused: Do builds the Beam pipeline itself (ReadImages per input split)."""
        raise NotImplementedError("ImageExampleGen's Do reads its inputs with ReadImages")


def _output_splits(pipeline, listings, input_base, label_ids, options, input_config,
                   output_config, parts_dir) -> list[tuple[str, beam.PCollection]]:
    """(output split name, Examples) pairs: the input splits as they are, or hash-partitioned
    on the relative path (TFX's own partition function, so the split matches TFX's)."""
    collections = {
        split.name: pipeline | f"Read[{split.name}]" >> ReadImages(
            listings[split.pattern], input_base, label_ids, options,
            os.path.join(parts_dir, "".join(c if c.isalnum() else "_" for c in split.pattern)))
        for split in input_config.splits
    }
    split_config = output_config.split_config
    if not split_config.splits:
        return list(collections.items())
    buckets, total = [], 0
    for split in split_config.splits:
        total += split.hash_buckets
        buckets.append(total)
    (only,) = collections.values()
    parts = only | "SplitByHash" >> beam.Partition(_PartitionFn, len(buckets), buckets,
                                                    split_config)
    return [(split.name, parts[i]) for i, split in enumerate(split_config.splits)]


def _chunks(images: list[sources.Item]) -> list[list[sources.Item]]:
    """The listing in a fixed pseudo-random order, cut into chunks of _CHUNK_SIZE files.

    Listings come sorted, i.e. grouped by class; shuffling once here (seeded, so the
    output is the same on every run) keeps the classes mixed inside the TFRecords.
    """
    shuffled = list(images)
    random.Random(_SHUFFLE_SEED).shuffle(shuffled)
    return [shuffled[i:i + _CHUNK_SIZE] for i in range(0, len(shuffled), _CHUNK_SIZE)]


def write_text(path: str, text: str) -> None:
    """Writes a text file on any filesystem gfile knows."""
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)


def _read_parts(parts_dir: str) -> list[dict[str, str]]:
    entries = []
    for path in tf.io.gfile.glob(os.path.join(parts_dir, "*")):
        with tf.io.gfile.GFile(path) as f:
            entries.extend(json.loads(line) for line in f if line.strip())
    if tf.io.gfile.exists(parts_dir):
        tf.io.gfile.rmtree(parts_dir)
    return entries


def _count_splits(listings, quarantined, input_config, output_config) -> dict[str, int]:
    """Examples per output split, without reading the written TFRecords back.

    With hash splitting, TFX assigns a split from the `relative_path` feature alone,
    so calling its own partition function on that feature gives the exact counts.
    """
    bad = {entry["path"] for entry in quarantined}
    good = {
        pattern: [item.id for item in listing.items if item.id not in bad]
        for pattern, listing in listings.items()
    }
    split_config = output_config.split_config
    if not split_config.splits:
        return {split.name: len(good[split.pattern]) for split in input_config.splits}
    buckets, total = [], 0
    for split in split_config.splits:
        total += split.hash_buckets
        buckets.append(total)
    counts = {split.name: 0 for split in split_config.splits}
    names = [split.name for split in split_config.splits]
    for path in next(iter(good.values())):
        key = tf.train.Example()
        key.features.feature[features.RELATIVE_PATH].bytes_list.value.append(path.encode())
        counts[names[_PartitionFn(key, len(buckets), buckets, split_config)]] += 1
    return counts
