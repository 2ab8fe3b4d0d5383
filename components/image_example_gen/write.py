"""Writing the Examples splits: gzip TFRecords, as TFX expects, without re-compressing images.

TFX 1.16 ExampleGens write FORMAT_TFRECORDS_GZIP only, and Beam's TFRecord sink
compresses at zlib's default level. The payload here is already-compressed JPEG/PNG
bytes: zlib gains almost nothing on them and costs more CPU than decoding them. So the
splits are written as gzip files of *stored* (level 0) deflate blocks: every gzip
reader (tf.data, TFXIO, Beam) reads them unchanged, at a fraction of the write cost.

Written by hand because neither Beam nor TFX exposes the zlib level; the sink below
is Beam's own TFRecord sink with only the file it opens swapped.
"""

from __future__ import annotations

import gzip
import os

import apache_beam as beam
from apache_beam.io import tfrecordio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from tfx.components.example_gen import write_split

GZIP_LEVEL = 0  # stored blocks: valid gzip, no CPU spent on incompressible image bytes
# The files of the Examples written as they are read (inputs with one role), beside TFX's
# own name for the ones written after the duplicate search; readers take `<split>/*`.
FIRST_PASS_FILE_NAME = f"{write_split.DEFAULT_TF_RECORD_FILE_NAME}-first-pass"


class _StoredGzipFile(gzip.GzipFile):
    """A gzip writer over a Beam file handle that also closes the handle."""

    def __init__(self, raw_file, level: int):
        super().__init__(fileobj=raw_file, mode="wb", compresslevel=level)
        self._raw_file = raw_file

    def close(self) -> None:
        super().close()
        self._raw_file.close()


class _StoredGzipTFRecordSink(tfrecordio._TFRecordSink):  # noqa: SLF001 - see the module doc
    def __init__(self, file_path_prefix: str, level: int):
        super().__init__(
            file_path_prefix=file_path_prefix,
            coder=beam.coders.BytesCoder(),
            file_name_suffix=".gz",
            num_shards=0,
            shard_name_template=None,
            compression_type=CompressionTypes.UNCOMPRESSED,
        )
        self._level = level

    def open(self, temp_path: str):
        raw = FileSystems.create(temp_path, self.mime_type, CompressionTypes.UNCOMPRESSED)
        return _StoredGzipFile(raw, self._level)


@beam.ptransform_fn
def WriteExamplesSplit(examples, output_split_path: str,  # noqa: N802 - a PTransform
                       file_name: str = write_split.DEFAULT_TF_RECORD_FILE_NAME,
                       level: int = GZIP_LEVEL):
    """Serialized Examples -> `<split>/<file_name>-*.gz` (by default `data_tfrecord`, the
    file names TFX's own writer uses).

    No Reshuffle before writing (TFX's WriteSplit has one): the listing is already
    spread by Create's reshuffle, and the Trainer shuffles every epoch.
    """
    return (
        examples
        | "Serialize" >> beam.ParDo(write_split.MaybeSerialize())
        | "Write" >> beam.io.Write(_StoredGzipTFRecordSink(
            os.path.join(output_split_path, file_name), level))
    )
