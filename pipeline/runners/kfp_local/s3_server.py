"""A real S3 API server on 127.0.0.1 for the pipeline root: moto's server, started by the harness.

Why S3 and not GCS (the README example's gs://): TensorFlow 2.16's built-in GCS filesystem,
the one a pod reads gs:// with, has no emulator endpoint. The modular plugin that has one
(tensorflow-io-gcs-filesystem 0.37.1, CLOUD_STORAGE_EMULATOR_ENDPOINT) dereferences unset
GCS_READ_CACHE_* variables and crashes, and once those are set its glob does not match
folders (a `*` over folders returns nothing: TFX's span resolution globs folders); and
gcp-storage-emulator refuses the zero-byte uploads TensorFlow writes as folder markers.
S3 is reached as in a pod with an S3 or MinIO root (open-source KFP's own default store is
MinIO, an S3 API): TensorFlow through tensorflow-io's s3:// filesystem, Beam through boto3,
KFP's launcher (launcher.py) through the same API. moto keeps the bucket in memory: it lives
as long as the server, and the harness copies it to a folder when it stops.

Every process reaches the server through the environment this sets (AWS_ENDPOINT_URL for
boto3 and Beam, S3_ENDPOINT and friends for tensorflow-io), which the tasks inherit.
"""

from __future__ import annotations

import logging
import os
import socket

import boto3

BUCKET_SCHEME = "s3://"
# What boto3, Beam and tensorflow-io read; the credentials are moto's (any value works).
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "visionpipe", "AWS_SECRET_ACCESS_KEY": "visionpipe",
                "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                "S3_USE_HTTPS": "0", "S3_VERIFY_SSL": "0"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key/more -> (bucket, key/more)."""
    bucket, _, key = uri.removeprefix(BUCKET_SCHEME).partition("/")
    return bucket, key


class S3Store:
    """An S3 API store, reached through boto3 at endpoint (None: the environment's)."""

    def __init__(self, endpoint: str | None = None):
        self.endpoint = endpoint

    @property
    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint)

    def create_bucket(self, uri: str) -> None:
        """Creates the bucket of an s3:// URI (nothing when it exists)."""
        bucket, _ = split_uri(uri)
        if bucket not in {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}:
            self.client.create_bucket(Bucket=bucket)

    def copy_in(self, folder: str, uri: str) -> int:
        """Uploads every file below folder to uri (a bucket's data, as a cluster's bucket holds
        it); returns the files copied."""
        bucket, key = split_uri(uri.rstrip("/"))
        self.create_bucket(uri)
        count = 0
        for directory, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, folder).replace(os.sep, "/")
                self.client.upload_file(path, bucket, f"{key}/{relative}" if key else relative)
                count += 1
        return count

    def copy_out(self, uri: str, folder: str) -> int:
        """Downloads every object below uri into folder (what stays when the server stops);
        folder markers become folders. Returns the objects copied."""
        bucket, key = split_uri(uri.rstrip("/"))
        count = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                          Prefix=key):
            for item in page.get("Contents", []):
                target = os.path.join(folder, os.path.relpath(item["Key"], key or "."))
                if item["Key"].endswith("/"):
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                self.client.download_file(bucket, item["Key"], target)
                count += 1
        return count


class LocalS3(S3Store):
    """moto's S3 server on 127.0.0.1 for as long as the block runs; the environment of this
    process (and so of the tasks it starts) points every S3 client at it."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        super().__init__(f"http://127.0.0.1:{_free_port()}")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1",
                                          port=int(self.endpoint.rsplit(":", 1)[1]),
                                          verbose=False)
        self._saved: dict[str, str | None] = {}

    @property
    def environment(self) -> dict[str, str]:
        return {**_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "S3_ENDPOINT": self.endpoint}

    def __enter__(self) -> LocalS3:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
        self._server.start()
        for name, value in self.environment.items():
            self._saved[name] = os.environ.get(name)
            os.environ[name] = value
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
