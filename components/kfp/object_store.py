"""The object store a Kubeflow task reads and writes its artifacts in, as the task sees it.

- TensorFlow 2.16 reads gs:// itself but has no s3://: tensorflow-io's filesystem plugin
  gives it one (use_filesystems), the one a pod with an S3 or MinIO pipeline root needs.
  Beam reads both through its own clients (google-cloud-storage, boto3), configured from
  the environment like TensorFlow's (the AWS_* and S3_* variables).
- Zero-byte "folder/" objects. TensorFlow's GCS filesystem writes one for every folder it
  makes, and open-source KFP's launcher downloads a task's input artifacts object by object,
  a marker as a *file*, after which the folder below it cannot be created: the task fails
  before it starts (`mkdir ...: not a directory`, kubeflow/pipelines#13476). So every task
  removes the markers below its outputs when its executor is done (remove_directory_markers),
  before KFP uploads them and hands them on; the folders stay what they were (an object
  store's folders are the prefixes of its objects), which Vertex and TensorFlow read alike.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

OBJECT_STORES = ("gs://", "s3://", "minio://")  # the pipeline roots KFP's launcher accepts


def is_object_store(uri: str) -> bool:
    return uri.startswith(OBJECT_STORES)


def use_filesystems(texts: Iterable[str]) -> None:
    """Registers TensorFlow's s3:// filesystem (tensorflow-io) when one of texts (URIs, or a
    task's whole invocation: its data may live in S3 too) names an s3:// object."""
    if any("s3://" in text for text in texts):
        import tensorflow_io  # noqa: F401 - registers the s3:// filesystem with TensorFlow


def exit_process(code: int) -> None:
    """Ends the process with code. When tensorflow-io's filesystems are loaded, without
    Python's shutdown of extension modules: its S3 client (0.37) aborts the process there
    ("pure virtual method called", exit code 134) after work that succeeded
    (tensorflow/io#2039)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if "tensorflow_io" in sys.modules:
        os._exit(code)
    sys.exit(code)


def _beam_io(uri: str):
    """Beam's client of the store uri is in: exact object names, no folder semantics (Beam's
    FileSystems.delete of a name ending in '/' would delete everything below it)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if uri.startswith("s3://"):
        from apache_beam.io.aws import s3io

        return s3io.S3IO(options=PipelineOptions([]))
    from apache_beam.io.gcp import gcsio

    return gcsio.GcsIO(pipeline_options=PipelineOptions([]))


def directory_markers(uri: str) -> list[str]:
    """The zero-byte objects named like folders ('.../') at or below uri."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    FileSystems.set_options(PipelineOptions([]))
    found = FileSystems.match([uri.rstrip("/") + "/**"])[0].metadata_list
    return sorted(m.path for m in found if m.path.endswith("/") and m.size_in_bytes == 0)


def remove_directory_markers(uris: Iterable[str]) -> list[str]:
    """Deletes the directory markers at or below each object-store uri; returns their names."""
    removed = []
    for uri in uris:
        if not uri.startswith(("gs://", "s3://")):
            continue
        markers = directory_markers(uri)
        if markers:
            store = _beam_io(uri)
            for marker in markers:
                store.delete(marker)
            removed += markers
    return removed
