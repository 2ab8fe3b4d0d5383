"""The image ExampleGen's Beam executor: validate and fingerprint, find duplicates, split, write.

Files are listed on the launcher (cheap), then one Beam pipeline:
1. every image is read, decoded once to validate it and fingerprinted (content hash,
   perceptual hash, thumbnail: ingest.py), and its Example built; unreadable ones go to
   the quarantine report. An image whose input has one role (a split folder of the user's:
   val/, test/, or train/ beside val/) is written into that split at once. The Examples of
   hash-split inputs (a folder of class folders, or train/ when validation is carved from
   it) are staged instead: written, framed as TFRecords, into a plain file of the bundle's,
   beside a small record of each (index, content hash, input, class);
2. the duplicate search (find_duplicates.py) groups near-copies;
3. the staged Examples are copied, as framed, into their group's role: the hash of the
   group's key, so near-copies never straddle the pipeline's own splits.
Image bytes never wait for the search in memory: between the passes they wait on disk,
and the search joins 28 bytes per image into one array. The staged copy is written once
and read once, a plain copy of the bytes: the earlier design read each source file again
and built its Example a second time, about 3x the whole ExampleGen's fixed costs on real
photos (BENCHMARKS.md). The Examples' files are written per bundle and committed once all
are done (write.py).
Beside the splits: the label vocabulary, quarantine_report.json and leakage_report.json
(duplicate groups, near-copies across the user's splits, copies with different labels).
"""

from __future__ import annotations

import collections
import functools
import json
import os
import pickle
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import apache_beam as beam
import tensorflow as tf
from apache_beam.transforms.window import GlobalWindows
from tfx.components.example_gen import base_example_gen_executor, write_split
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.common import features, label_vocabulary
from components.image_example_gen import duplicates, image_issues, sources
from components.image_example_gen.example_encoding import serialized_example
from components.image_example_gen.find_duplicates import FindDuplicates
from components.image_example_gen.ingest import (
    Fingerprinted,
    Ingested,
    Quarantined,
    chunked,
    ingest_chunk,
)
from components.image_example_gen.layout import SPAN_TAGS
from components.image_example_gen.options import IngestOptions
from components.image_example_gen.part_files import (
    WritePartFiles,
    read_listing,
    read_part_file,
    write_listing,
)
from components.image_example_gen.plan import (
    EmptyDataError,
    IngestPlan,
    fixed_roles,
    plan_ingestion,
)
from components.image_example_gen.validation import upright
from components.image_example_gen.write import (
    FIRST_PASS_FILE_NAME,
    SECOND_PASS_FILE_NAME,
    BundleFiles,
    commit,
    framed,
    framed_records,
)

INGEST_OPTIONS_KEY = "ingest_options"
_QUARANTINE = "quarantine"
_IMAGE_ISSUES = "image_issues"
_SIGNATURES = "signatures"
_EXAMPLE_FILES = "example_files"  # WrittenFile of the Examples, to commit
_STAGED = "staged"  # (staged Examples file, its records file) of one bundle
_STAGED_EXAMPLES, _STAGED_RECORDS = "examples", "records"
_PARTS_DIR = ".parts"
_REPORTS_PART = "reports.json"
_LISTING_PART = "listing.pickle"
_EXAMPLES_PART = "examples"  # the bundles' Examples files until they are committed
_STAGED_PART = "staged"
_SHUFFLE_SEED = 0


class LeakageError(ValueError):
    """Too many evaluated images have a near-copy in training (--max-leakage)."""


def _example_bytes(record: Ingested, data: bytes, label_ids: dict[str, int]) -> bytes:
    """The serialized Example of an image's bytes, upright."""
    data, info = upright(data, record.info)
    return serialized_example(record.item.id, record.item.class_name,
                              label_ids[record.item.class_name], data, info, record.measures)


class _ReadAndFingerprint(beam.DoFn):
    """A chunk of (index, item, input), given by its number in the listing file
    (part_files.write_listing) -> one chunk of signatures for the duplicate search,
    quarantine records with the reason, the flagged images; the chunk's Examples written
    into the bundle's files: of its split where the image's input has one role, staged
    (with their records) where it is hash-split. When the bundle ends: its Examples files
    (_EXAMPLE_FILES) and its staged pair (_STAGED).

    Chunks, not single items: the pool works on chunks side by side (TensorFlow's decoder
    releases the GIL), a chunk's pictures are fingerprinted and measured as arrays
    (ingest.ingest_chunk), and Beam pays its per-element cost once per chunk instead of
    once per image.

    A chunk's work (_work: file reads and decodes, which release the GIL, and the chunk's
    array steps) runs in a small thread pool, one task per chunk, CHUNKS_AHEAD chunks
    ahead: a chunk's task is submitted when it arrives and its outputs (_outputs, in this
    thread) are yielded once that many newer chunks are in the pool (or the bundle ends).
    So the pool always has chunks queued while this thread writes the chunk before and Beam
    runs the steps after it (one chunk ahead, the pool still idled about a sixth of the
    time, waiting for this thread).
    """

    CHUNKS_AHEAD = 2
    _pool: ThreadPoolExecutor | None = None
    _in_flight: collections.deque | None = None  # (chunk, the future of its work)

    def __init__(self, input_base: str, label_ids: dict[str, int], options: IngestOptions,
                 listing_path: str, parts_dir: str):
        self._input_base = input_base
        self._label_ids = label_ids
        self._options = options
        self._source: sources.Source | None = None
        self._listing_path = listing_path
        self._parts_dir = parts_dir
        self._listing: list | None = None
        self._files: BundleFiles | None = None
        self._staged: BundleFiles | None = None
        self._fixed_roles = fixed_roles(options.shares_by_input())
        self._read = beam.metrics.Metrics.counter("visionpipe", "images_read")
        self._quarantined = beam.metrics.Metrics.counter("visionpipe", "images_quarantined")

    def setup(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self._options.read_threads or min(
            4, os.cpu_count() or 1))
        self._source = sources.source(self._options.data_format)
        self._listing = read_listing(self._listing_path)

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def start_bundle(self) -> None:
        self._in_flight = collections.deque()
        self._files = BundleFiles(os.path.join(self._parts_dir, _EXAMPLES_PART))
        self._staged = BundleFiles(os.path.join(self._parts_dir, _STAGED_PART), compressed=False)

    def process(self, chunk_number: int):
        chunk = self._listing[chunk_number]
        self._in_flight.append((chunk, self._pool.submit(self._work, chunk)))
        while len(self._in_flight) > self.CHUNKS_AHEAD:
            yield from self._finish(self._in_flight.popleft())

    def finish_bundle(self):
        while self._in_flight:
            yield from _windowed(self._finish(self._in_flight.popleft()))
        yield from _windowed(self._bundle_outputs())

    def _finish(self, in_flight: tuple):
        chunk, future = in_flight
        return self._outputs(chunk, future.result())

    def _work(self, chunk: list[tuple[int, sources.Item, str]]
              ) -> tuple[list[Fingerprinted | Quarantined], dict[str, bytes]]:
        """Each image ingested, and the chunk's Examples framed: {role: block} for the
        inputs with one role, {_STAGED_EXAMPLES: block} for the hash-split ones (in the
        chunk's order)."""
        results = ingest_chunk(self._source, self._input_base, chunk, self._options.image_shape,
                               self._options.max_pixels, self._options.model_side,
                               self._options.image_measures)
        examples: dict[str, list[bytes]] = {}
        for result in results:
            if isinstance(result, Fingerprinted):
                key = self._fixed_roles.get(result.record.input, _STAGED_EXAMPLES)
                examples.setdefault(key, []).append(
                    _example_bytes(result.record, result.data, self._label_ids))
        return results, {key: framed(records) for key, records in examples.items()}

    def _outputs(self, chunk, worked):
        results, blocks = worked
        staged, signatures, roles, flagged = [], [], [], []
        for result in results:
            if isinstance(result, Quarantined):
                self._quarantined.inc()
                yield beam.pvalue.TaggedOutput(_QUARANTINE, result.to_json())
                continue
            record = result.record
            signatures.append((result.member, result.thumbnail))
            if record.measures.issues:
                flagged.append((record.item.id, record.measures.issues))
            if record.input in self._fixed_roles:
                roles.append((self._fixed_roles[record.input], record.item.class_name))
            else:
                staged.append((record.index, record.sha256, record.input, record.item.class_name))
        for key, block in blocks.items():
            (self._staged if key == _STAGED_EXAMPLES else self._files).write(key, block)
        if staged:
            self._staged.write(_STAGED_RECORDS, pickle.dumps(staged, pickle.HIGHEST_PROTOCOL))
        self._read.inc(len(signatures))
        _count_examples(roles)
        if signatures:
            yield beam.pvalue.TaggedOutput(_SIGNATURES, signatures)
        if flagged:  # one element per chunk: a greyscale data set flags every image
            yield beam.pvalue.TaggedOutput(_IMAGE_ISSUES, flagged)

    def _bundle_outputs(self):
        """Once the bundle's last chunk is written: its Examples files and staged pair."""
        for role, path in self._files.close().items():
            yield beam.pvalue.TaggedOutput(_EXAMPLE_FILES, (role, FIRST_PASS_FILE_NAME, path))
        staged = self._staged.close()
        if staged:
            yield beam.pvalue.TaggedOutput(_STAGED, (staged[_STAGED_EXAMPLES],
                                                     staged[_STAGED_RECORDS]))


class _RouteStaged(beam.DoFn):
    """A bundle's staged pair (its Examples file, its records file) -> each Example copied,
    as framed, into the file of its group's role (one file per role and bundle); when the
    bundle ends, those files (WrittenFile)."""

    def __init__(self, shares: dict, parts_dir: str):
        self._shares = shares
        self._parts_dir = parts_dir
        self._files: BundleFiles | None = None

    def start_bundle(self) -> None:
        self._files = BundleFiles(os.path.join(self._parts_dir, _EXAMPLES_PART))

    def process(self, staged: tuple[str, str], found):
        group_keys, _ = found
        examples_path, records_path = staged
        examples = framed_records(examples_path)
        for records in read_part_file(records_path):
            blocks: dict[str, list[bytes]] = {}
            written = []
            for index, sha256, input_name, class_name in records:
                role = duplicates.role_of(self._shares[input_name],
                                          group_keys.get(index, sha256))
                example = next(examples, None)
                if example is None:
                    raise ValueError(f"{examples_path}: fewer staged Examples than records")
                blocks.setdefault(role, []).append(example)
                written.append((role, class_name))
            for role, block in blocks.items():
                self._files.write(role, b"".join(block))
            _count_examples(written)
        if next(examples, None) is not None:
            raise ValueError(f"{examples_path}: more staged Examples than records")
        return ()

    def finish_bundle(self):
        for role, path in self._files.close().items():
            yield GlobalWindows.windowed_value((role, SECOND_PASS_FILE_NAME, path))


def _write_json(value: Any, path: str) -> None:
    write_text(path, json.dumps(value))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Plans the ingestion, runs it in one Beam pipeline, then writes the vocabulary and the
    reports and raises the verdicts (empty splits, leakage)."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        options = IngestOptions.from_json(exec_properties.get(INGEST_OPTIONS_KEY))
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        resolve_spans_here(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                           input_config, examples)
        plan = plan_ingestion(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                              [(split.name, split.pattern) for split in input_config.splits],
                              options)
        examples.split_names = artifact_utils.encode_split_names(plan.roles)
        parts_dir = os.path.join(examples.uri, _PARTS_DIR)
        tf.io.gfile.makedirs(parts_dir)  # the reports go there even when no image is readable
        class_counts = self._ingest(plan, options, parts_dir,
                                    output_dict[standard_component_specs.EXAMPLES_KEY])
        split_counts = {role: sum(counts.values()) for role, counts in class_counts.items()}
        quarantined, found, flagged = _read_parts(parts_dir)
        issues = image_issues.collect(flagged, sum(split_counts.values()))
        leakage = write_reports(examples, plan, class_counts, quarantined, found, issues,
                                options)
        raise_verdicts(plan, split_counts, len(quarantined), leakage, options,
                       os.path.join(examples.uri, features.LEAKAGE_REPORT_FILE))

    def _ingest(self, plan: IngestPlan, options: IngestOptions, parts_dir: str,
                output_examples) -> dict[str, dict[str, int]]:
        """Runs the Beam pipeline that reads, validates, fingerprints, searches and writes
        (the module doc's three steps); returns the Examples written per split and class."""
        label_ids, input_base = plan.label_ids, plan.input_base
        pipeline = self._make_beam_pipeline()
        chunks = _chunks(plan.entries, sources.source(options.data_format), input_base)
        listing_path = os.path.join(parts_dir, _LISTING_PART)
        write_listing(listing_path, chunks)
        read = (
            pipeline
            # Create reshuffles its elements, so the chunks spread over workers.
            | "ListFiles" >> beam.Create(range(len(chunks)))
            | "ReadAndFingerprint" >> beam.ParDo(_ReadAndFingerprint(input_base, label_ids, options,
                                                                     listing_path, parts_dir))
            .with_outputs(_QUARANTINE, _SIGNATURES, _IMAGE_ISSUES, _EXAMPLE_FILES, _STAGED)
        )
        if options.duplicate_search:
            signature_files = read[_SIGNATURES] | "WriteSignatures" >> beam.ParDo(
                WritePartFiles(os.path.join(parts_dir, _SIGNATURES)))
            found = read[_SIGNATURES] | "FindDuplicates" >> FindDuplicates(signature_files,
                                                                           plan.shares)
        else:  # (the benchmarks' switch) no groups: every image splits by its own hash
            found = pipeline | "NoSearch" >> beam.Create([duplicates.analyse([], [], {})])
        # The duplicate report, the (few) quarantine entries and the flagged images, written
        # once all are known.
        _ = found | "WriteReports" >> beam.Map(
            lambda result, quarantined, flagged: _write_json(
                {"duplicates": result[1], _QUARANTINE: quarantined,
                 _IMAGE_ISSUES: [pair for chunk in flagged for pair in chunk]},
                os.path.join(parts_dir, _REPORTS_PART)),
            quarantined=beam.pvalue.AsList(read[_QUARANTINE]),
            flagged=beam.pvalue.AsList(read[_IMAGE_ISSUES]))
        routed = (
            read[_STAGED]
            # Spread the bundles' staged files over the workers, so the copy scales out too.
            | "SpreadStaged" >> beam.Reshuffle()
            | "RouteStaged" >> beam.ParDo(_RouteStaged(plan.shares, parts_dir),
                                          beam.pvalue.AsSingleton(found))
        )
        written = (read[_EXAMPLE_FILES], routed) | "ExampleFiles" >> beam.Flatten()
        split_uris = {role: artifact_utils.get_split_uri(output_examples, role)
                      for role in plan.roles}
        _ = (pipeline
             | "Once" >> beam.Create([None], reshuffle=False)
             | "CommitExamples" >> beam.Map(
                 lambda _, files: commit(files, split_uris), beam.pvalue.AsList(written)))
        result = pipeline.run()
        result.wait_until_finish()
        return _class_counts(result, plan)

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """Unused: Do builds the Beam pipeline itself (two passes, see the module doc)."""
        raise NotImplementedError("ImageExampleGen's Do builds its own Beam pipeline")


def resolve_spans_here(input_base: str, input_config: example_gen_pb2.Input, examples) -> None:
    """Resolves {SPAN}/{VERSION} patterns left in the input config to the newest span, and
    records span and version on the Examples, as TFX's driver does before the executor.

    The local runner's driver and Vertex's preCacheCheck hook resolve them first; open-source
    KFP runs no hook, so the executor gets the patterns as compiled and does it itself.
    """
    if not any(tag in split.pattern for split in input_config.splits for tag in SPAN_TAGS):
        return
    _, span, version = example_gen_utils.calculate_splits_fingerprint_span_and_version(
        input_base, input_config.splits)
    examples.set_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME, span)
    if version is not None:
        examples.set_int_custom_property(example_gen_utils.VERSION_PROPERTY_NAME, version)


def write_reports(examples, plan: IngestPlan, class_counts: dict[str, dict[str, int]],
                  quarantined: list[dict], found: dict, issues: image_issues.ImageIssues,
                  options: IngestOptions) -> dict:
    """Writes the vocabulary, quarantine_report.json, leakage_report.json and
    image_issues.json into the Examples artifact and sets its properties; returns the
    leakage figures.

    class_counts: {split: {class: Examples}}, which the Trainer's class weights and the
    summary's imbalance ratio read back."""
    split_counts = {role: sum(counts.values()) for role, counts in class_counts.items()}
    examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(
        examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))
    report = {
        "input_base": plan.input_base,
        "class_names": plan.class_names,
        "examples_per_split": split_counts,
        features.CLASS_COUNTS_PROPERTY: class_counts,
        "quarantined_count": len(quarantined),
        "ignored_count": len(plan.ignored),
        "quarantined": sorted(quarantined, key=lambda e: e["path"]),
        "ignored": plan.ignored,
    }
    write_text(os.path.join(examples.uri, features.QUARANTINE_REPORT_FILE),
               json.dumps(report, indent=2))
    leakage = duplicates.leakage(found, split_counts)
    leakage["max_leakage"] = options.max_leakage
    write_text(os.path.join(examples.uri, features.LEAKAGE_REPORT_FILE),
               json.dumps({"leakage": leakage, **found}, indent=2))
    write_text(os.path.join(examples.uri, features.IMAGE_ISSUES_FILE),
               json.dumps({"greyscale_data_set": issues.greyscale_data_set,
                           "image_issues": issues.to_json()}, indent=2))
    examples.set_string_custom_property(features.IMAGE_ISSUES_PROPERTY,
                                        json.dumps(issues.counts()))
    label_vocabulary.write(os.path.join(examples.uri, label_vocabulary.FILE_NAME),
                           plan.class_names)
    examples.set_string_custom_property(features.CLASS_NAMES_PROPERTY,
                                        json.dumps(plan.class_names))
    examples.set_string_custom_property(features.EXAMPLES_PER_SPLIT_PROPERTY,
                                        json.dumps(split_counts))
    examples.set_string_custom_property(features.CLASS_COUNTS_PROPERTY, json.dumps(class_counts))
    examples.set_int_custom_property(features.QUARANTINED_PROPERTY, len(quarantined))
    examples.set_int_custom_property(features.IGNORED_PROPERTY, len(plan.ignored))
    examples.set_string_custom_property(features.DUPLICATES_PROPERTY, json.dumps({
        "groups": found["groups"],
        "images_in_groups": found["images_in_groups"],
        "exact_copies": found["exact_copies"],
        "label_conflicts": found["label_conflict_count"],
        "leakage": leakage}))
    return leakage


def raise_verdicts(plan: IngestPlan, split_counts: dict[str, int], quarantined: int,
                   leakage: dict, options: IngestOptions, leakage_path: str) -> None:
    """EmptyDataError when a split is empty, LeakageError above --max-leakage; else nothing."""
    empty = [name for name, count in split_counts.items() if count == 0]
    if empty:
        readable = sum(split_counts.values())
        hint = ("" if not readable else f"; {readable} readable image(s) left it empty: give "
                "it a larger share (--split-ratio, e.g. 60/20/20) or a folder of its own")
        raise EmptyDataError(
            f"{plan.input_base}: no readable images in split(s) {', '.join(empty)} "
            f"({quarantined} file(s) quarantined, see "
            f"{features.QUARANTINE_REPORT_FILE}){hint}")
    if leakage["fraction"] > options.max_leakage:
        raise LeakageError(
            f"{leakage['with_near_copy_in_training']} of {leakage['evaluated']} validation "
            f"and test images ({leakage['fraction']:.1%}) have a near-copy in training, above "
            f"--max-leakage {options.max_leakage:g}: the verdict would be optimistic (pairs "
            f"in {leakage_path})")


def _chunks(entries: list[tuple], source: sources.Source, input_base: str
            ) -> list[list[tuple]]:
    """The listing in a fixed pseudo-random order, cut into chunks (ingest.chunked).

    Listings come sorted, i.e. grouped by class; shuffling once here (seeded, so the
    output is the same on every run) keeps the classes mixed inside the TFRecords.
    """
    shuffled = list(entries)
    random.Random(_SHUFFLE_SEED).shuffle(shuffled)
    return chunked(shuffled, source, input_base)


def write_text(path: str, text: str) -> None:
    """Writes a text file on any filesystem gfile knows."""
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)


def _windowed(outputs):
    """Outputs as finish_bundle must yield them: windowed values (tagged ones too)."""
    for output in outputs:
        if isinstance(output, beam.pvalue.TaggedOutput):
            yield beam.pvalue.TaggedOutput(output.tag, GlobalWindows.windowed_value(output.value))
        else:
            yield GlobalWindows.windowed_value(output)


_COUNTERS = "visionpipe"
_CLASS_COUNTER = "examples/{role}/{label}"  # a split's Examples of one class


def _count_examples(written: list[tuple[str, str]]) -> None:
    """Counts a chunk's Examples per (role, class name): one counter update per pair, not
    per image."""
    for (role, label), count in collections.Counter(written).items():
        _class_counter(role, label).inc(count)


@functools.cache
def _class_counter(role: str, label: str):
    """The counter of role's Examples of one class, made once per process (making one costs
    more than counting: a data set of 100 classes meets most of them in every chunk)."""
    return beam.metrics.Metrics.counter(_COUNTERS, _CLASS_COUNTER.format(role=role, label=label))


def _class_counts(result, plan: IngestPlan) -> dict[str, dict[str, int]]:
    """{split: {class: Examples written}} from the committed counters (0 where none)."""
    found = {role: dict.fromkeys(plan.class_names, 0) for role in plan.roles}
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(_COUNTERS))
    for counter in query["counters"]:
        kind, _, rest = counter.key.metric.name.partition("/")
        role, _, label = rest.partition("/")
        if kind == "examples" and role in found and label in found[role]:
            found[role][label] += int(counter.committed)
    return found


def _read_parts(parts_dir: str) -> tuple[list[dict], dict, list[tuple[str, list[str]]]]:
    """What the Beam pipeline left in parts_dir (quarantine entries, the duplicate report,
    the flagged images); the folder is removed."""
    path = os.path.join(parts_dir, _REPORTS_PART)
    found = {"duplicates": duplicates.analyse([], [], {})[1], _QUARANTINE: [], _IMAGE_ISSUES: []}
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            found = json.load(f)
    if tf.io.gfile.exists(parts_dir):
        tf.io.gfile.rmtree(parts_dir)
    return found[_QUARANTINE], found["duplicates"], found[_IMAGE_ISSUES]
