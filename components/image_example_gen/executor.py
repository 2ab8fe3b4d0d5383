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

from components import features
from components.image_example_gen import csv_source, sources
from components.image_example_gen.options import CSV, IngestOptions
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
    """A chunk of (relative path, class) -> tf.train.Examples, or quarantine records with the reason.

    Chunks, not single files: a small thread pool decodes the files of a chunk in
    parallel (TensorFlow's decoder releases the GIL), and Beam pays its per-element
    cost once per chunk instead of once per image.
    """

    def __init__(self, input_base: str, label_ids: dict[str, int], options: IngestOptions):
        self._input_base = input_base
        self._label_ids = label_ids
        self._max_pixels = options.max_pixels
        self._image_shape = options.image_shape
        self._read = beam.metrics.Metrics.counter("visionpipe", "images_read")
        self._quarantined = beam.metrics.Metrics.counter("visionpipe", "images_quarantined")
        self._pool: ThreadPoolExecutor | None = None

    def setup(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def _convert(self, item: tuple[str, str, str | None]) -> tf.train.Example | dict[str, str]:
        """One file (csv_line None) or one CSV row -> Example, or {path, reason}."""
        relative_path, class_name, csv_line = item
        try:
            if csv_line is None:
                with tf.io.gfile.GFile(os.path.join(self._input_base, relative_path), "rb") as f:
                    data = f.read()
            else:
                data = csv_source.encode_png(csv_source.parse_row(csv_line, self._image_shape))
            data, info = upright(data, inspect_image(data, self._max_pixels))
        except (InvalidImage, csv_source.InvalidRow, OSError, tf.errors.OpError) as error:
            reason = error.message if isinstance(error, tf.errors.OpError) else str(error)
            return {"path": relative_path, "reason": reason}
        return image_example(relative_path, class_name, self._label_ids[class_name], data, info)

    def process(self, chunk: list[tuple[str, str, str | None]]):
        for result in self._pool.map(self._convert, chunk):
            if isinstance(result, dict):
                self._quarantined.inc()
                yield beam.pvalue.TaggedOutput(_QUARANTINE, result)
            else:
                self._read.inc()
                yield result


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Lists the images, converts them with Beam, then writes the vocabulary and quarantine report."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        options = IngestOptions.from_json(exec_properties.get(INGEST_OPTIONS_KEY))
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        listings, self._csv_lines = {}, {}
        for split in input_config.splits:
            if options.data_format == CSV:
                rows = csv_source.list_rows(os.path.join(input_base, split.pattern), split.pattern)
                listings[split.pattern] = sources.Listing(
                    images=[(row_id, label) for row_id, label, _ in rows.rows],
                    ignored=rows.ignored)
                self._csv_lines.update((row_id, line) for row_id, _, line in rows.rows)
            else:
                listings[split.pattern] = sources.list_split(input_base, split.pattern)
        self._class_names = list(options.class_names) or sources.sort_class_names(
            name for listing in listings.values() for _, name in listing.images
        )
        if len(self._class_names) < 2:
            raise EmptyDataError(
                f"{input_base}: found {len(self._class_names)} class folder(s) with images "
                f"({', '.join(self._class_names) or 'none'}); a classifier needs at least 2"
            )
        self._listings = listings
        self._options = options
        self._parts_dir = os.path.join(examples.uri, _PARTS_DIR)

        self._write_examples(examples, output_dict, exec_properties, input_config)

        quarantined = _read_parts(self._parts_dir)
        ignored = [entry for listing in listings.values() for entry in listing.ignored]
        split_counts = _count_splits(listings, quarantined, input_config, exec_properties)
        report = {
            "input_base": input_base,
            "class_names": self._class_names,
            "examples_per_split": split_counts,
            "quarantined_count": len(quarantined),
            "ignored_count": len(ignored),
            "quarantined": sorted(quarantined, key=lambda e: e["path"]),
            "ignored": ignored,
        }
        write_text(os.path.join(examples.uri, features.QUARANTINE_REPORT_FILE),
                   json.dumps(report, indent=2))
        write_text(os.path.join(examples.uri, features.LABEL_VOCABULARY_FILE),
                   "".join(name + "\n" for name in self._class_names))
        examples.set_string_custom_property("label_vocabulary", json.dumps(self._class_names))
        examples.set_string_custom_property("examples_per_split", json.dumps(split_counts))
        examples.set_int_custom_property("quarantined_count", len(quarantined))
        examples.set_int_custom_property("ignored_count", len(ignored))
        empty = [name for name, count in split_counts.items() if count == 0]
        if empty:
            raise EmptyDataError(
                f"{input_base}: no readable images in split(s) {', '.join(empty)} "
                f"({len(quarantined)} file(s) quarantined, see {features.QUARANTINE_REPORT_FILE})"
            )

    def _write_examples(self, examples, output_dict, exec_properties, input_config) -> None:
        """BaseExampleGenExecutor.Do, with the splits written by write.WriteExamplesSplit."""
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
        )
        examples.split_names = artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config, output_config)
        )
        output_examples = output_dict[standard_component_specs.EXAMPLES_KEY]
        with self._make_beam_pipeline() as pipeline:
            splits = self.GenerateExamplesByBeam(pipeline, exec_properties)
            for split_name, split in splits.items():
                _ = split | f"WriteSplit[{split_name}]" >> WriteExamplesSplit(
                    artifact_utils.get_split_uri(output_examples, split_name)
                )
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP)
        )

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        executor = self

        @beam.ptransform_fn
        def _images_to_examples(pipeline, exec_properties, split_pattern):
            listing = executor._listings[split_pattern]
            label_ids = {name: i for i, name in enumerate(executor._class_names)}
            unknown = sorted({name for _, name in listing.images} - set(label_ids))
            if unknown:
                raise EmptyDataError(
                    f"class(es) {', '.join(unknown)} are not in the label vocabulary "
                    f"{executor._class_names}"
                )
            results = (
                pipeline
                # Create reshuffles its elements, so the chunks spread over workers.
                | "ListFiles" >> beam.Create(_chunks(
                    [(path, name, executor._csv_lines.get(path)) for path, name in listing.images]))
                | "ReadAndValidate" >> beam.ParDo(
                    _ReadAndValidate(
                        exec_properties[standard_component_specs.INPUT_BASE_KEY],
                        label_ids,
                        executor._options,
                    )
                ).with_outputs(_QUARANTINE, main="examples")
            )
            part = "".join(c if c.isalnum() else "_" for c in split_pattern)
            _ = (
                results[_QUARANTINE]
                | "ToJson" >> beam.Map(json.dumps)
                | "WriteQuarantine" >> beam.io.WriteToText(os.path.join(executor._parts_dir, part))
            )
            return results.examples

        return _images_to_examples


def _chunks(images: list[tuple]) -> list[list[tuple]]:
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


def _count_splits(listings, quarantined, input_config, exec_properties) -> dict[str, int]:
    """Examples per output split, without reading the written TFRecords back.

    With hash splitting, TFX assigns a split from the `relative_path` feature alone,
    so calling its own partition function on that feature gives the exact counts.
    """
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
    )
    bad = {entry["path"] for entry in quarantined}
    good = {
        pattern: [path for path, _ in listing.images if path not in bad]
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
