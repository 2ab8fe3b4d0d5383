"""Writing the Examples splits: gzip TFRecords, as TFX expects, without re-compressing images,
one file per Beam bundle and split, committed once every bundle is done.

TFX 1.16 ExampleGens write FORMAT_TFRECORDS_GZIP only, and Beam's TFRecord sink
compresses at zlib's default level. The payload here is already-compressed JPEG/PNG
bytes: zlib gains almost nothing on them and costs more CPU than decoding them. So the
splits are written as gzip files of *stored* (level 0) deflate blocks: every gzip
reader (tf.data, TFXIO, Beam) reads them unchanged, at a fraction of the write cost.

Written by hand rather than with Beam's WriteToTFRecord, for two reasons measured on real
photos (BENCHMARKS.md): neither Beam nor TFX exposes the zlib level, and a sink takes every
Example as an element of its own, through a serialize step and its write step (Beam's
per-element cost on the main thread, under the GIL the decode pool needs), plus four
stages of its own per split. Here a chunk's Examples are framed as TFRecords in the pool
thread that built them (`framed`) and written as one block; the files follow Beam's own
file-sink protocol:

- every bundle attempt writes files of fresh names into a temporary folder (`BundleFiles`)
  and outputs their paths only when the bundle ends; the runner passes on the outputs of
  committed bundles only, so a failed attempt's files are never committed;
- one step, once all are written, moves the committed files into their splits under the
  names TFX's writer uses (`commit`), through Beam's FileSystems (local, gs://, s3://).
"""

from __future__ import annotations

import gzip
import io
import os
import uuid
from collections.abc import Iterable, Iterator

from apache_beam.io import tfrecordio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from tfx.components.example_gen import write_split

GZIP_LEVEL = 0  # stored blocks: valid gzip, no CPU spent on incompressible image bytes
# The files of the Examples written as they are read (inputs with one role), beside TFX's
# own name for the ones written after the duplicate search; readers take `<split>/*`.
FIRST_PASS_FILE_NAME = f"{write_split.DEFAULT_TF_RECORD_FILE_NAME}-first-pass"
SECOND_PASS_FILE_NAME = write_split.DEFAULT_TF_RECORD_FILE_NAME
_FRAME_HEAD = 12  # a TFRecord's length (8 bytes) and the CRC of the length (4)
_FRAME_TAIL = 4  # the CRC of the data

# A written file: (split, file name it is committed under, its temporary path).
WrittenFile = tuple[str, str, str]


def framed(records: Iterable[bytes]) -> bytes:
    """Records in TFRecord framing (length, masked CRC32Cs), joined: a block of a file."""
    buffer = io.BytesIO()
    for record in records:
        tfrecordio._TFRecordUtil.write_record(buffer, record)  # noqa: SLF001 - Beam's framing
    return buffer.getvalue()


def framed_records(path: str) -> Iterator[bytes]:
    """The framed records of an uncompressed file of `framed` blocks, each as written (framing
    included, so it can be copied into another file without computing its CRCs again)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as file:
        while head := file.read(_FRAME_HEAD):
            if len(head) < _FRAME_HEAD:
                raise ValueError(f"{path}: truncated TFRecord header")
            length = int.from_bytes(head[:8], "little")
            body = file.read(length + _FRAME_TAIL)
            if len(body) < length + _FRAME_TAIL:
                raise ValueError(f"{path}: truncated TFRecord")
            yield head + body


class _StoredGzipFile(gzip.GzipFile):
    """A gzip writer over a Beam file handle that also closes the handle."""

    def __init__(self, raw_file, level: int):
        super().__init__(fileobj=raw_file, mode="wb", compresslevel=level)
        self._raw_file = raw_file

    def close(self) -> None:
        super().close()
        self._raw_file.close()


class BundleFiles:
    """The files one bundle writes, one per key, each created at its first block under a
    fresh name in folder: gzip of stored blocks, or plain for files that only this run
    reads back (compressed=False)."""

    def __init__(self, folder: str, compressed: bool = True):
        self._folder = folder
        self._compressed = compressed
        self._files: dict = {}
        self._paths: dict = {}

    def write(self, key, block: bytes) -> None:
        """Appends block (framed records) to key's file."""
        if key not in self._files:
            path = os.path.join(self._folder,
                                uuid.uuid4().hex + (".gz" if self._compressed else ""))
            raw = FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)
            self._files[key] = _StoredGzipFile(raw, GZIP_LEVEL) if self._compressed else raw
            self._paths[key] = path
        self._files[key].write(block)

    def close(self) -> dict:
        """Closes every file; returns {key: path} of those written."""
        for file in self._files.values():
            file.close()
        paths, self._files, self._paths = self._paths, {}, {}
        return paths


def commit(written: list[WrittenFile], split_uris: dict[str, str]) -> None:
    """Moves the committed bundles' files into their splits as
    `<split>/<file name>-<shard>-of-<shards>.gz` (TFX's and Beam's file names), in a fixed
    order; every split's folder is made, also one left empty. A file already moved (a
    retried commit) is left where it is."""
    for uri in split_uris.values():
        if not FileSystems.exists(uri):
            FileSystems.mkdirs(uri)
    by_name: dict[tuple[str, str], list[str]] = {}
    for split, name, path in written:
        by_name.setdefault((split, name), []).append(path)
    sources, destinations = [], []
    for (split, name), paths in sorted(by_name.items()):
        for shard, path in enumerate(sorted(paths)):
            destination = os.path.join(split_uris[split],
                                       f"{name}-{shard:05d}-of-{len(paths):05d}.gz")
            if FileSystems.exists(path):
                sources.append(path)
                destinations.append(destination)
    if sources:
        FileSystems.rename(sources, destinations)
