"""What the REST and gRPC front ends share: find the model version, check the request, run it.

Errors carry TF Serving's error codes and messages, so clients see what TF Serving
would tell them; the front ends map the codes to HTTP statuses and gRPC status codes.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from components.common import features, label_vocabulary
from components.common.tf_errors import op_error_message
from serving.model_store import LoadedVersion, ModelStore

MAX_BATCH = 1024


class ServingError(Exception):
    """A request TF Serving would refuse: a gRPC-style code and a message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code  # INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ...
        self.message = message


class Servables:
    """The models this server serves, by name, with optional version labels."""

    def __init__(self, stores: dict[str, ModelStore], labels: dict[str, dict[str, int]] | None = None,
                 batcher=None):
        self.stores = stores
        self.labels = labels or {}
        self.batcher = batcher  # serving.batching.Batcher when server-side batching is on

    def run(self, loaded: LoadedVersion, signature_name: str | None,
            inputs: dict[str, object]) -> dict[str, np.ndarray]:
        """run_signature, through the batcher when batching is on."""
        if self.batcher is not None:
            return self.batcher.run(loaded, signature_name, inputs)
        return run_signature(loaded, signature_name, inputs)

    def resolve(self, name: str, version: int | None = None, label: str | None = None
                ) -> LoadedVersion:
        """The loaded version a request names; NOT_FOUND in TF Serving's words otherwise."""
        if not features.MODEL_NAME.match(name or ""):
            raise ServingError("INVALID_ARGUMENT", f"Invalid model name: {name[:80]!r}")
        store = self.stores.get(name)
        if store is None:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if label is not None:
            if label not in self.labels.get(name, {}) and label != "latest":
                raise ServingError("INVALID_ARGUMENT",
                                   f"Unrecognized servable version label: {label}")
            version = self.labels.get(name, {}).get(label)
        loaded = store.get(version)
        if loaded is None:
            spec = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise ServingError("NOT_FOUND", f"Servable not found for request: {spec}")
        return loaded


def signature_defs(loaded: LoadedVersion) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs exactly as stored in the SavedModel (what TF Serving reports)."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(loaded.path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    defs = saved_model.meta_graphs[0].signature_def
    return {name: defs[name] for name in defs if not name.startswith("__")}


def class_names(loaded: LoadedVersion) -> list[str]:
    """The label vocabulary the SavedModel carries in its assets."""
    return label_vocabulary.read(label_vocabulary.in_saved_model(loaded.path))


def signature(loaded: LoadedVersion, name: str | None):
    """The named signature function (serving_default when name is empty)."""
    name = name or features.SERVING_SIGNATURE
    if name not in loaded.signatures:
        raise ServingError("INVALID_ARGUMENT",
                           f'Serving signature name: "{name}" not found in signature def')
    return loaded.signatures[name]


def run_signature(loaded: LoadedVersion, signature_name: str | None,
                  inputs: dict[str, object]) -> dict[str, np.ndarray]:
    """Runs a signature on named inputs (lists or arrays); INVALID_ARGUMENT for a bad request."""
    function = signature(loaded, signature_name)
    _, specs = function.structured_input_signature
    expected = set(specs)
    unknown = set(inputs) - expected
    if unknown or not inputs:
        alias = sorted(unknown)[0] if unknown else "(none)"
        raise ServingError("INVALID_ARGUMENT",
                           f"input tensor alias not found in signature: {alias}. Inputs expected "
                           f"to be in the set {{{','.join(sorted(expected))}}}.")
    missing = expected - set(inputs)
    if missing:
        raise ServingError("INVALID_ARGUMENT",
                           f"Missing input tensor alias: {sorted(missing)[0]}")
    tensors = {}
    for name, value in inputs.items():
        spec = specs[name]
        try:
            tensor = tf.constant(value, dtype=spec.dtype)
        except (TypeError, ValueError) as error:
            raise ServingError("INVALID_ARGUMENT",
                               f"input {name}: cannot convert to {spec.dtype.name}: {error}") from None
        if tensor.shape.rank == 0 or tensor.shape[0] == 0:
            raise ServingError("INVALID_ARGUMENT", f"input {name}: empty batch")
        if tensor.shape[0] > MAX_BATCH:
            raise ServingError("INVALID_ARGUMENT",
                               f"input {name}: batch of {tensor.shape[0]} exceeds {MAX_BATCH}")
        if not spec.shape.is_compatible_with(tensor.shape):
            raise ServingError("INVALID_ARGUMENT",
                               f"input {name}: shape {tensor.shape} does not match {spec.shape}")
        tensors[name] = tensor
    try:
        outputs = function(**tensors)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ServingError("INVALID_ARGUMENT", op_error_message(error.message)) from None
    return {name: value.numpy() for name, value in outputs.items()}
