"""Part files: what waits on disk for the duplicate search (the images' signatures), one file
per Beam bundle, and the listing the pass over the images reads. (The staged hash-split
records are read back by read_part_file too: write.BundleFiles writes them, as pickles.)

Written by hand rather than with Beam's WriteToTFRecord and ReadAllFromTFRecord: those are
made for outputs that outlive the run, and each adds its own small stages (a temp folder,
pre-finalize, finalize and rename; a reshard to read back), a good part of the fixed
cost the duplicate search added to a run (BENCHMARKS.md). These files live only until the
run ends, so a plain file per bundle is enough:

- exactly once: every bundle attempt writes a file of its own (a fresh name) and yields
  its path only when the bundle ends; the runner passes on the outputs of committed
  bundles only, so a retried bundle's file is never read (it is removed with the folder);
- any filesystem Beam knows (local, gs://, s3://), through Beam's FileSystems;
- pickles, one per element: the elements are the ExampleGen's own chunks of plain
  dataclasses, read back by the same code.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows


class WritePartFiles(beam.DoFn):
    """Elements -> pickled into one file per bundle, `<prefix>-<random hex>`; outputs the
    file's path when the bundle ends (nothing for an empty bundle)."""

    def __init__(self, prefix: str):
        self._prefix = prefix
        self._path: str | None = None
        self._file = None

    def start_bundle(self) -> None:
        self._path, self._file = None, None

    def process(self, element: Any):
        if self._file is None:
            self._path = f"{self._prefix}-{uuid.uuid4().hex}"
            self._file = FileSystems.create(self._path, compression_type=CompressionTypes.UNCOMPRESSED)
        pickle.dump(element, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        return ()

    def finish_bundle(self):
        if self._file is None:
            return
        self._file.close()
        yield GlobalWindows.windowed_value(self._path)


def read_part_file(path: str) -> Iterator[Any]:
    """The elements one part file holds, in the order they were written."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as file:
        while True:
            try:
                yield pickle.load(file)
            except EOFError:
                return


def write_listing(path: str, chunks: list[list[Any]]) -> None:
    """The run's chunks of the listing, pickled into one file that every worker reads once
    (read_listing): the pipeline then carries only their numbers. Handing Beam the
    chunks themselves (beam.Create) pickled and bz2-compressed them with the pipeline,
    about 40 us an image before the first one was read."""
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as file:
        pickle.dump(chunks, file, protocol=pickle.HIGHEST_PROTOCOL)


def read_listing(path: str) -> list[list[Any]]:
    """The chunks write_listing wrote."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as file:
        return pickle.load(file)
