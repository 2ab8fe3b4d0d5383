"""What open-source KFP's launcher does around a task's command, on a pod's own filesystem.

As backend/src/v2/component/launcher_v2.go and backend/src/v2/objectstore/object_store.go
do it (read for this harness; KFP 2.x):
- the pipeline root must be an object store (ParseBucketConfig: gs://, s3://, minio://);
- every input artifact's objects are downloaded to the pod's local path of its URI
  (LocalPathForURI: s3://b/k -> /s3/b/k) before the command runs, object by object as the
  store lists them under the artifact's key: a zero-byte "folder/" marker becomes a *file*,
  and creating the folders below it then fails ("mkdir ...: not a directory",
  kubeflow/pipelines#13476);
- after the command, each output artifact's local path is uploaded when it exists (TFX
  writes its outputs to the store directly, so there is usually nothing there);
- the executor output is read from /tmp/kfp_outputs/output_metadata.json, output
  parameters from /tmp/kfp/outputs/<name>.
A pod's filesystem is a folder of its own here (`pod`), so those absolute paths sit below
it. Objects are listed, read and written through Beam's FileSystems (its s3:// and gs://
clients), the store's own API.
"""

from __future__ import annotations

import dataclasses
import os
import re

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.runners.kfp_local.platforms import LAUNCHER_LOCAL_ROOTS

OUTPUT_METADATA = "/tmp/kfp_outputs/output_metadata.json"
OUTPUT_PARAMETERS = "/tmp/kfp/outputs"
_ROOT = re.compile(r"^([a-z][a-z0-9]+:///?)([^/?]+)(/[^?]*)?(\?.+)?$")  # the launcher's pattern
_COPY_BYTES = 8 * 1024 * 1024


class StagingError(RuntimeError):
    """The launcher could not stage an artifact; the message is the launcher's."""


def check_pipeline_root(root: str) -> None:
    """ValueError with the launcher's own words unless root is an object-store URL."""
    match = _ROOT.match(root)
    if match is None:
        raise ValueError(f"parse bucket config failed: unrecognized pipeline root format: "
                         f"{root!r} (open-source KFP's launcher takes gs://, s3:// or minio:// "
                         "roots only; a local root runs with --platform vertex)")
    if match.group(1) not in LAUNCHER_LOCAL_ROOTS:
        raise ValueError(f"parse bucket config failed: unsupported Cloud bucket: {root!r}")


def local_path(pod: str, uri: str) -> str:
    """The pod's local path of an artifact URI (LocalPathForURI), below the pod's folder."""
    for scheme, root in LAUNCHER_LOCAL_ROOTS.items():
        if uri.startswith(scheme):
            return os.path.join(pod, root.lstrip("/"), uri.removeprefix(scheme))
    raise StagingError(f"failed to generate local path for URI {uri}: unsupported storage scheme")


def in_pod(pod: str, path: str) -> str:
    """An absolute path of the pod (/tmp/...) below the pod's folder."""
    return os.path.join(pod, path.lstrip("/"))


@dataclasses.dataclass
class Staged:
    """What staging moved for a task: objects and bytes, down (inputs) and up (outputs)."""

    downloaded_objects: int = 0
    downloaded_bytes: int = 0
    uploaded_objects: int = 0
    uploaded_bytes: int = 0


def _objects(uri: str) -> list[tuple[str, int]]:
    """(URI, size) of every object whose name starts with uri, in the store's listing order."""
    FileSystems.set_options(PipelineOptions([]))
    found = FileSystems.match([uri + "**"])[0].metadata_list
    return sorted((m.path, m.size_in_bytes) for m in found)


def download(uri: str, pod: str, staged: Staged) -> None:
    """DownloadBlob: the objects at and below uri to the pod's local path, markers as files."""
    local_dir, prefix = local_path(pod, uri), uri.rstrip("/")
    for path, size in _objects(prefix):
        if path != prefix and not path.startswith(prefix + "/"):
            continue  # listed by the prefix, but another artifact's (isBlobKeyUnderPrefix)
        relative = os.path.normpath(path[len(prefix):].strip("/") or ".")  # Go's filepath.Rel
        target = os.path.normpath(os.path.join(local_dir, relative))
        folder = os.path.dirname(target)
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StagingError(f"failed to download input artifact from remote storage URI "
                               f"{uri!r}: downloadFile(): unable to complete copying {path!r} "
                               f"to local storage {target!r}: failed to create local "
                               f"directory {folder!r}: mkdir {folder}: not a directory") from None
        try:
            with FileSystems.open(path) as source, open(target, "wb") as sink:
                while chunk := source.read(_COPY_BYTES):
                    sink.write(chunk)
        except IsADirectoryError:
            raise StagingError(f"failed to download input artifact from remote storage URI "
                               f"{uri!r}: unable to open local file {target!r} for writing: "
                               "is a directory") from None
        staged.downloaded_objects += 1
        staged.downloaded_bytes += size


def upload(uri: str, pod: str, staged: Staged) -> None:
    """UploadBlob: the pod's local path of uri, when the task wrote one, to the store."""
    local = local_path(pod, uri)
    if not os.path.exists(local):
        return  # "We allow components to not produce output files"
    files = [local] if os.path.isfile(local) else [
        os.path.join(folder, name) for folder, _, names in os.walk(local) for name in names]
    for file in files:
        target = uri if file == local else uri.rstrip("/") + "/" + os.path.relpath(
            file, local).replace(os.sep, "/")
        with open(file, "rb") as source, FileSystems.create(target) as sink:
            while chunk := source.read(_COPY_BYTES):
                sink.write(chunk)
        staged.uploaded_objects += 1
        staged.uploaded_bytes += os.path.getsize(file)
