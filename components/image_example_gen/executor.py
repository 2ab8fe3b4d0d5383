"""The image ExampleGen's Beam executor: validate and fingerprint, find duplicates, split, write.

Files are listed on the launcher (cheap), then one Beam pipeline:
1. every image is read, decoded once to validate it and fingerprinted (content hash,
   perceptual hash, thumbnail: ingest.py); unreadable ones go to the quarantine report.
   An image whose input has one role (a split folder of the user's: val/, test/, or
   train/ beside val/) is written into that split at once, from the bytes in hand;
2. the duplicate search (find_duplicates.py) groups near-copies;
3. the images of hash-split inputs (a folder of class folders, or train/ when validation
   is carved from it) are read again (not decoded) and written into their group's role:
   the hash of the group's key, so near-copies never straddle the pipeline's own splits.
Image bytes never wait for the search: between the passes only a small record per
hash-split image does (its path, size, format, hash), in part files on disk
(part_files.py), and the search joins 28 bytes per image into one array. Reading twice
costs a second read of each such file (from the page cache locally, a second GET on object
stores) and no second decode.
Beside the splits: the label vocabulary, quarantine_report.json and leakage_report.json
(duplicate groups, near-copies across the user's splits, copies with different labels).
"""

from __future__ import annotations

import collections
import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import apache_beam as beam
import tensorflow as tf
from apache_beam.transforms.window import GlobalWindows
from tfx.components.example_gen import base_example_gen_executor, write_split
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import features, label_vocabulary
from components.image_example_gen import duplicates, sources
from components.image_example_gen.find_duplicates import FindDuplicates
from components.image_example_gen.ingest import Fingerprinted, Ingested, Quarantined, ingest
from components.image_example_gen.layout import ROLES
from components.image_example_gen.options import IngestOptions, Shares
from components.image_example_gen.part_files import WritePartFiles, read_part_file
from components.image_example_gen.validation import upright
from components.image_example_gen.write import FIRST_PASS_FILE_NAME, WriteExamplesSplit

INGEST_OPTIONS_KEY = "ingest_options"
_QUARANTINE = "quarantine"
_SIGNATURES = "signatures"
_PARTS_DIR = ".parts"
_REPORTS_PART = "reports.json"
_CHUNK_SIZE = 32
_SHUFFLE_SEED = 0


class EmptyDataError(ValueError):
    """The input holds no usable images for a split, or fewer than two classes."""


class LeakageError(ValueError):
    """Too many evaluated images have a near-copy in training (--max-leakage)."""


def image_example(relative_path: str, class_name: str, label: int, data: bytes, info) -> tf.train.Example:
    """The tf.train.Example for one validated image (encoded bytes, label and what validation found)."""
    example = tf.train.Example()
    # Filled in place: half the time of building nested Feature messages and copying them
    # in (about 20 us against 45 us an image, measured), on the ExampleGen's hot path.
    feature = example.features.feature
    for key, value in ((features.IMAGE_BYTES, data), (features.LABEL_NAME, class_name.encode()),
                       (features.RELATIVE_PATH, relative_path.encode()),
                       (features.FORMAT, info.format.encode())):
        feature[key].bytes_list.value.append(value)
    for key, value in ((features.LABEL, label), (features.HEIGHT, info.height),
                       (features.WIDTH, info.width), (features.CHANNELS, info.channels)):
        feature[key].int64_list.value.append(value)
    return example


def fixed_roles(shares: dict[str, Shares]) -> dict[str, str]:
    """{input: its one role} for the inputs that have a single role (the user's split
    folders): their images need no duplicate groups to know their split."""
    return {name: input_shares[0][0] for name, input_shares in shares.items()
            if len(input_shares) == 1}


def _example_bytes(record: Ingested, data: bytes, label_ids: dict[str, int]) -> bytes:
    """The serialized Example of an image's bytes, upright."""
    data, info = upright(data, record.info)
    return image_example(record.item.id, record.item.class_name,
                         label_ids[record.item.class_name], data, info).SerializeToString()


class _ChunkAheadDoFn(beam.DoFn):
    """A DoFn over chunks whose per-item work (file reads and decodes, which release the GIL)
    runs in a small thread pool, one chunk ahead: a chunk's work is submitted when it
    arrives and its outputs are yielded when the next chunk arrives (or the bundle ends).
    So the pool works on one chunk while this thread writes the chunk before and Beam runs
    the steps after it; taking chunk by chunk, the pool idled through all of that.

    Subclasses give _work (in the pool, one item) and _outputs (in this thread, one chunk);
    both read the images of input_base through the options' source.
    """

    _pool: ThreadPoolExecutor | None = None
    _in_flight: tuple | None = None  # (chunk, futures of its work, side inputs)

    def __init__(self, input_base: str, label_ids: dict[str, int], options: IngestOptions):
        self._input_base = input_base
        self._label_ids = label_ids
        self._options = options
        self._source: sources.Source | None = None

    def setup(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        self._source = sources.source(self._options.data_format)

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def _work(self, item):
        raise NotImplementedError

    def _outputs(self, chunk: list, results: list, *side_inputs):
        raise NotImplementedError

    def start_bundle(self) -> None:
        self._in_flight = None

    def process(self, chunk: list, *side_inputs):
        submitted = (chunk, [self._pool.submit(self._work, item) for item in chunk],
                     side_inputs)
        previous, self._in_flight = self._in_flight, submitted
        if previous is not None:
            yield from self._finish(previous)

    def finish_bundle(self):
        previous, self._in_flight = self._in_flight, None
        if previous is None:
            return
        for output in self._finish(previous):  # finish_bundle yields windowed values
            if isinstance(output, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(output.tag, GlobalWindows.windowed_value(
                    output.value))
            else:
                yield GlobalWindows.windowed_value(output)

    def _finish(self, in_flight: tuple):
        chunk, futures, side_inputs = in_flight
        return self._outputs(chunk, [future.result() for future in futures], *side_inputs)


class _ReadAndFingerprint(_ChunkAheadDoFn):
    """A chunk of (index, item, input) -> small Ingested records, one chunk of signatures for
    the duplicate search, and quarantine records with the reason; the Examples of images
    whose input has one role, tagged with _first_pass(role).

    Chunks, not single items: the pool decodes the files of a chunk in parallel
    (TensorFlow's decoder releases the GIL), and Beam pays its per-element cost once per
    chunk instead of once per image.
    """

    def __init__(self, input_base: str, label_ids: dict[str, int], options: IngestOptions):
        super().__init__(input_base, label_ids, options)
        self._fixed_roles = fixed_roles(options.shares_by_input())
        self._read = beam.metrics.Metrics.counter("visionpipe", "images_read")
        self._quarantined = beam.metrics.Metrics.counter("visionpipe", "images_quarantined")

    def _work(self, entry: tuple[int, sources.Item, str]
              ) -> tuple[Fingerprinted | Quarantined, bytes | None]:
        """The image ingested, and its serialized Example when its role is fixed."""
        index, item, input_name = entry
        result = ingest(self._source, self._input_base, index, item, input_name,
                        self._options.image_shape, self._options.max_pixels)
        if isinstance(result, Quarantined) or input_name not in self._fixed_roles:
            return result, None
        return result, _example_bytes(result.record, result.data, self._label_ids)

    def _outputs(self, chunk, results):
        records, signatures, roles = [], [], []
        for result, example in results:
            if isinstance(result, Quarantined):
                self._quarantined.inc()
                yield beam.pvalue.TaggedOutput(_QUARANTINE, result.to_json())
                continue
            signatures.append((result.member, result.thumbnail))
            if example is None:
                records.append(result.record)
                continue
            roles.append(self._fixed_roles[result.record.input])
            yield beam.pvalue.TaggedOutput(_first_pass(roles[-1]), example)
        self._read.inc(len(signatures))
        _count_examples(roles)
        if records:
            yield records
        if signatures:
            yield beam.pvalue.TaggedOutput(_SIGNATURES, signatures)


class _WriteExamples(_ChunkAheadDoFn):
    """A chunk of Ingested records of hash-split inputs -> their Examples, each tagged with its
    group's role; the bytes are read again (not decoded: validation already did)."""

    def __init__(self, input_base: str, label_ids: dict[str, int], options: IngestOptions):
        super().__init__(input_base, label_ids, options)
        self._shares = options.shares_by_input()

    def _work(self, record: Ingested) -> bytes:
        data = self._source.read(self._input_base, record.item, self._options.image_shape)
        return _example_bytes(record, data, self._label_ids)

    def _outputs(self, records, examples, found):
        group_keys, _ = found
        roles = [duplicates.role_of(self._shares[record.input],
                                    group_keys.get(record.index, record.sha256))
                 for record in records]
        _count_examples(roles)
        for role, example in zip(roles, examples, strict=True):
            yield beam.pvalue.TaggedOutput(role, example)


def _write_json(value: Any, path: str) -> None:
    write_text(path, json.dumps(value))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Lists the images, ingests them with Beam, then writes the vocabulary and the reports."""

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
        shares = options.shares_by_input()
        missing = [split.name for split in input_config.splits if split.name not in shares]
        if missing:
            raise ValueError(f"ingest options give no roles for the input(s) {missing}")
        listings = {split.name: source.list_split(input_base, split.pattern)
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
        entries = []
        for name, listing in listings.items():
            unknown = sorted({item.class_name for item in listing.items} - set(label_ids))
            if unknown:
                raise EmptyDataError(f"class(es) {', '.join(unknown)} are not in the label "
                                     f"vocabulary {class_names}")
            entries += [(len(entries) + i, item, name) for i, item in enumerate(listing.items)]
        roles = [role for role in ROLES if any(role == r for s in shares.values() for r, _ in s)]
        first_pass_roles = sorted(set(fixed_roles(shares).values()), key=roles.index)
        second_pass_roles = [role for role in roles if any(
            len(s) > 1 and role in dict(s) for s in shares.values())]
        parts_dir = os.path.join(examples.uri, _PARTS_DIR)
        tf.io.gfile.makedirs(parts_dir)  # the reports go there even when no image is readable
        examples.split_names = artifact_utils.encode_split_names(roles)
        output_examples = output_dict[standard_component_specs.EXAMPLES_KEY]

        pipeline = self._make_beam_pipeline()
        read = (
            pipeline
            # Create reshuffles its elements, so the chunks spread over workers.
            | "ListFiles" >> beam.Create(_chunks(entries))
            | "ReadAndFingerprint" >> beam.ParDo(_ReadAndFingerprint(input_base, label_ids, options))
            .with_outputs(_QUARANTINE, _SIGNATURES, *map(_first_pass, first_pass_roles),
                          main="records")
        )
        for role in first_pass_roles:
            _ = read[_first_pass(role)] | f"WriteSplitFirstPass[{role}]" >> WriteExamplesSplit(
                artifact_utils.get_split_uri(output_examples, role), FIRST_PASS_FILE_NAME)
        signature_files = read[_SIGNATURES] | "WriteSignatures" >> beam.ParDo(
            WritePartFiles(os.path.join(parts_dir, _SIGNATURES)))
        found = read[_SIGNATURES] | "FindDuplicates" >> FindDuplicates(signature_files, shares)
        # The duplicate report and the (few) quarantine entries, written once both are known.
        _ = found | "WriteReports" >> beam.Map(
            lambda result, quarantined: _write_json(
                {"duplicates": result[1], _QUARANTINE: quarantined},
                os.path.join(parts_dir, _REPORTS_PART)),
            quarantined=beam.pvalue.AsList(read[_QUARANTINE]))
        if second_pass_roles:
            # The records wait for the groups on disk, not in the runner's memory (which
            # holds what passes between stages, about three copies when it is read back).
            written = (
                read.records
                | "WriteRecords" >> beam.ParDo(WritePartFiles(os.path.join(parts_dir, "records")))
                # Spread the files over the workers, so the second pass scales out too.
                | "SpreadRecordFiles" >> beam.Reshuffle()
                | "ReadRecords" >> beam.FlatMap(read_part_file)
            ) | "ToExamples" >> beam.ParDo(
                _WriteExamples(input_base, label_ids, options), beam.pvalue.AsSingleton(found)
            ).with_outputs(*second_pass_roles)
            for role in second_pass_roles:
                _ = written[role] | f"WriteSplit[{role}]" >> WriteExamplesSplit(
                    artifact_utils.get_split_uri(output_examples, role))
        result = pipeline.run()
        result.wait_until_finish()
        split_counts = {role: _counter(result, _examples_counter(role)) for role in roles}
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))

        quarantined, found_duplicates = _read_parts(parts_dir)
        ignored = [entry for listing in listings.values() for entry in listing.ignored]
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
        leakage = duplicates.leakage(found_duplicates, split_counts)
        leakage["max_leakage"] = options.max_leakage
        found_duplicates = {"leakage": leakage, **found_duplicates}
        leakage_path = os.path.join(examples.uri, features.LEAKAGE_REPORT_FILE)
        write_text(leakage_path, json.dumps(found_duplicates, indent=2))
        label_vocabulary.write(os.path.join(examples.uri, label_vocabulary.FILE_NAME), class_names)
        examples.set_string_custom_property(features.CLASS_NAMES_PROPERTY, json.dumps(class_names))
        examples.set_string_custom_property(features.EXAMPLES_PER_SPLIT_PROPERTY,
                                            json.dumps(split_counts))
        examples.set_int_custom_property(features.QUARANTINED_PROPERTY, len(quarantined))
        examples.set_int_custom_property(features.IGNORED_PROPERTY, len(ignored))
        examples.set_string_custom_property(features.DUPLICATES_PROPERTY, json.dumps({
            "groups": found_duplicates["groups"],
            "images_in_groups": found_duplicates["images_in_groups"],
            "exact_copies": found_duplicates["exact_copies"],
            "label_conflicts": found_duplicates["label_conflict_count"],
            "leakage": leakage}))
        empty = [name for name, count in split_counts.items() if count == 0]
        if empty:
            readable = sum(split_counts.values())
            hint = ("" if not readable else f"; {readable} readable image(s) left it empty: give "
                    "it a larger share (--split-ratio, e.g. 60/20/20) or a folder of its own")
            raise EmptyDataError(
                f"{input_base}: no readable images in split(s) {', '.join(empty)} "
                f"({len(quarantined)} file(s) quarantined, see "
                f"{features.QUARANTINE_REPORT_FILE}){hint}")
        if leakage["fraction"] > options.max_leakage:
            raise LeakageError(
                f"{leakage['with_near_copy_in_training']} of {leakage['evaluated']} validation "
                f"and test images ({leakage['fraction']:.1%}) have a near-copy in training, above "
                f"--max-leakage {options.max_leakage:g}: the verdict would be optimistic (pairs "
                f"in {leakage_path})")

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """Unused: Do builds the Beam pipeline itself (two passes, see the module doc)."""
        raise NotImplementedError("ImageExampleGen's Do builds its own Beam pipeline")


def _chunks(entries: list[tuple]) -> list[list[tuple]]:
    """The listing in a fixed pseudo-random order, cut into chunks of _CHUNK_SIZE items.

    Listings come sorted, i.e. grouped by class; shuffling once here (seeded, so the
    output is the same on every run) keeps the classes mixed inside the TFRecords.
    """
    shuffled = list(entries)
    random.Random(_SHUFFLE_SEED).shuffle(shuffled)
    return [shuffled[i:i + _CHUNK_SIZE] for i in range(0, len(shuffled), _CHUNK_SIZE)]


def write_text(path: str, text: str) -> None:
    """Writes a text file on any filesystem gfile knows."""
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)


def _first_pass(role: str) -> str:
    """The output tag of the Examples pass one writes into role's split."""
    return f"first_pass_{role}"


def _examples_counter(role: str) -> str:
    return f"examples_{role}"


def _count_examples(roles: list[str]) -> None:
    """Counts a chunk's Examples per role (one counter update per role, not per image)."""
    for role, count in collections.Counter(roles).items():
        beam.metrics.Metrics.counter("visionpipe", _examples_counter(role)).inc(count)


def _counter(result, name: str) -> int:
    """A Beam counter's committed value (0 when nothing incremented it)."""
    query = result.metrics().query(beam.metrics.MetricsFilter().with_name(name))
    return int(sum(counter.committed for counter in query["counters"]))


def _read_parts(parts_dir: str) -> tuple[list[dict], dict]:
    """What the Beam pipeline left in parts_dir (quarantine entries, the duplicate report);
    the folder is removed."""
    path = os.path.join(parts_dir, _REPORTS_PART)
    found = {"duplicates": duplicates.analyse([], [], {})[1], _QUARANTINE: []}
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            found = json.load(f)
    if tf.io.gfile.exists(parts_dir):
        tf.io.gfile.rmtree(parts_dir)
    return found[_QUARANTINE], found["duplicates"]
