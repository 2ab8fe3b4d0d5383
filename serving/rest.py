"""TF Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest) for the served models.

  GET  /v1/models/{name}[/versions/{v}]                       model status
  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata  signature defs
  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict   row ("instances") or columnar ("inputs")
  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:classify  tf.Examples as JSON

Errors are TF Serving's: {"error": "..."} with 400 for a bad request and 404 for an
unknown model or version. Written on the standard library's threading HTTP server
(no web framework in the dependency set; the API surface is six routes). JSON is parsed
with `json` only: nothing in a request is ever evaluated or unpickled.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from components.common import features
from serving.inference import (
    Servables,
    ServingError,
    class_names,
    run_signature,
    signature,
    signature_defs,
)

log = logging.getLogger("visionpipe.serving")
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>predict|classify|regress))?/?$"
)
HTTP_STATUS = {"INVALID_ARGUMENT": HTTPStatus.BAD_REQUEST, "NOT_FOUND": HTTPStatus.NOT_FOUND,
               "FAILED_PRECONDITION": HTTPStatus.BAD_REQUEST,
               "UNIMPLEMENTED": HTTPStatus.NOT_IMPLEMENTED,
               "RESOURCE_EXHAUSTED": HTTPStatus.REQUEST_ENTITY_TOO_LARGE}


def _decode_value(value):
    """JSON value -> tensor-ready value: {"b64": ...} objects become bytes, recursively."""
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise ServingError("INVALID_ARGUMENT", f"JSON object {sorted(value)} is not a "
                               'binary value; use {"b64": "<base64>"}')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ServingError("INVALID_ARGUMENT",
                               "Unable to base64 decode the \"b64\" value") from None
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def _encode_output(name: str, array: np.ndarray):
    """Tensor -> JSON value: strings as text (or {"b64"} for *_bytes outputs and non-UTF-8)."""
    def convert(item):
        if isinstance(item, bytes):
            if name.endswith("_bytes"):
                return {"b64": base64.b64encode(item).decode()}
            try:
                return item.decode("utf-8")
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(item).decode()}
        if isinstance(item, list):
            return [convert(i) for i in item]
        return item
    return convert(np.asarray(array).tolist())


def parse_predict(body: dict, input_names: list[str]) -> dict[str, object]:
    """TF Serving's row or columnar request -> {input name: batch}."""
    if "instances" in body and "inputs" in body:
        raise ServingError("INVALID_ARGUMENT", "Request may contain either \"instances\" or "
                           "\"inputs\", not both")
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise ServingError("INVALID_ARGUMENT", "\"instances\" must be a non-empty list")
        if all(isinstance(i, dict) and "b64" not in i for i in instances):
            names = set(instances[0])
            if not names:
                raise ServingError("INVALID_ARGUMENT", "instance objects must name at least one "
                                   f"input of this signature ({input_names})")
            if any(set(i) != names for i in instances):
                raise ServingError("INVALID_ARGUMENT", "every instance must name the same inputs")
            return {n: [_decode_value(i[n]) for i in instances] for n in names}
        if len(input_names) != 1:
            raise ServingError("INVALID_ARGUMENT", "instances must be objects naming the inputs "
                               f"{input_names} of this signature")
        return {input_names[0]: [_decode_value(i) for i in instances]}
    if "inputs" in body:
        inputs = body["inputs"]
        if inputs in ({}, [], None):
            raise ServingError("INVALID_ARGUMENT", "\"inputs\" is empty")
        if isinstance(inputs, dict) and "b64" not in inputs:
            return {n: _decode_value(v) for n, v in inputs.items()}
        if len(input_names) != 1:
            raise ServingError("INVALID_ARGUMENT", f"inputs must name the inputs {input_names}")
        return {input_names[0]: _decode_value(inputs)}
    raise ServingError("INVALID_ARGUMENT", "Missing \"instances\" or \"inputs\" in the request")


def _example(features: dict) -> bytes:
    """A JSON tf.Example (feature -> value or list; {"b64"} for bytes) -> serialized proto."""
    example = tf.train.Example()
    for name, value in features.items():
        values = _decode_value(value if isinstance(value, list) else [value])
        feature = example.features.feature[name]
        if all(isinstance(v, bytes) for v in values):
            feature.bytes_list.value.extend(values)
        elif all(isinstance(v, str) for v in values):
            feature.bytes_list.value.extend(v.encode() for v in values)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            feature.int64_list.value.extend(values)
        elif all(isinstance(v, (int, float)) for v in values):
            feature.float_list.value.extend(values)
        else:
            raise ServingError("INVALID_ARGUMENT", f"feature {name}: mixed or unsupported values")
    return example.SerializeToString()


class Handler(BaseHTTPRequestHandler):
    """One request; the server object carries the servables and the size cap."""

    protocol_version = "HTTP/1.1"
    server_version = "visionpipe-serving"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK hold the body back ~40 ms on every keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # quiet: clients see errors in the responses

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, error: ServingError) -> None:
        self._send(HTTP_STATUS.get(error.code, HTTPStatus.BAD_REQUEST), {"error": error.message})

    def _route(self):
        match = _ROUTE.match(self.path.split("?", 1)[0])
        if not match:
            raise ServingError("NOT_FOUND", f"Malformed request: {self.command} {self.path[:200]}")
        version = match["version"]
        if version is not None and not version.isdigit():
            raise ServingError("INVALID_ARGUMENT", f"Invalid version: {version[:40]}")
        return match, int(version) if version is not None else None

    def _answer(self, handle) -> None:
        """Runs handle(); errors become TF Serving's {"error": ...} answers, never a dropped socket."""
        try:
            handle()
        except ServingError as error:
            self._error(error)
        except Exception as error:  # noqa: BLE001 - answer, log, keep serving
            log.exception("internal error on %s", self.path[:200])
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"Internal: {error}"[:500]})

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(self._get)

    def _get(self) -> None:
        match, version = self._route()
        if match["verb"]:
            raise ServingError("INVALID_ARGUMENT", f"use POST for :{match['verb']}")
        servables: Servables = self.server.servables
        loaded = servables.resolve(match["name"], version, match["label"])
        if match["metadata"]:
            self._send(HTTPStatus.OK, metadata_json(match["name"], loaded))
            return
        versions = [loaded.version] if version is not None else (
            servables.stores[match["name"]].loaded_versions())
        self._send(HTTPStatus.OK, {"model_version_status": [
            {"version": str(v), "state": "AVAILABLE",
             "status": {"error_code": "OK", "error_message": ""}} for v in versions]})

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(self._post)

    def _post(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ServingError("INVALID_ARGUMENT", "bad Content-Length header") from None
        if length > self.server.max_request_bytes:
            self.close_connection = True  # the body is not read
            raise ServingError("RESOURCE_EXHAUSTED", f"Request body of {length} bytes exceeds "
                               f"the limit of {self.server.max_request_bytes} bytes")
        raw = self.rfile.read(length)
        match, version = self._route()
        if match["verb"] not in ("predict", "classify"):
            raise ServingError("INVALID_ARGUMENT", "POST needs :predict or :classify")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
        if not isinstance(body, dict):
            raise ServingError("INVALID_ARGUMENT", "the request body must be a JSON object")
        loaded = self.server.servables.resolve(match["name"], version, match["label"])
        if match["verb"] == "classify":
            self._send(HTTPStatus.OK, classify(loaded, body))
        else:
            self._send(HTTPStatus.OK, predict(loaded, body, self.server.servables))


def predict(loaded, body: dict, servables: Servables | None = None) -> dict:
    """A :predict body -> TF Serving's response ("predictions" for rows, "outputs" for columns)."""
    signature_name = body.get("signature_name")
    input_names = sorted(signature(loaded, signature_name).structured_input_signature[1])
    inputs = parse_predict(body, input_names)
    outputs = (servables.run(loaded, signature_name, inputs) if servables
               else run_signature(loaded, signature_name, inputs))
    if "instances" in body:
        names = sorted(outputs)
        rows = len(next(iter(outputs.values())))
        if len(names) == 1:
            return {"predictions": _encode_output(names[0], outputs[names[0]])}
        return {"predictions": [{n: _encode_output(n, outputs[n][i]) for n in names}
                                for i in range(rows)]}
    if len(outputs) == 1:
        name = next(iter(outputs))
        return {"outputs": _encode_output(name, outputs[name])}
    return {"outputs": {n: _encode_output(n, v) for n, v in outputs.items()}}


def classify(loaded, body: dict) -> dict:
    """A :classify body (tf.Examples as JSON) -> {"result": [[[class, score], ...], ...]}.

    Runs the model's tf.Example signature (`serving_examples`, or the one named).
    """
    examples = body.get("examples")
    if not isinstance(examples, list) or not examples:
        raise ServingError("INVALID_ARGUMENT", "\"examples\" must be a non-empty list")
    context = body.get("context", {})
    serialized = [_example({**context, **e}) for e in examples if isinstance(e, dict)]
    if len(serialized) != len(examples):
        raise ServingError("INVALID_ARGUMENT", "every example must be a JSON object")
    outputs = run_signature(loaded, body.get("signature_name", features.EXAMPLES_SIGNATURE),
                            {features.EXAMPLES_INPUT: serialized})
    names = class_names(loaded)
    return {"result": [[[names[i], float(p)] for i, p in enumerate(row)]
                       for row in outputs[features.PROBABILITIES]]}


def metadata_json(name: str, loaded) -> dict:
    """GetModelMetadata's answer in TF Serving's REST JSON."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, value in signature_defs(loaded).items():
        signature_map.signature_def[key].CopyFrom(value)
    return {"model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
            "metadata": {"signature_def": json_format.MessageToDict(
                signature_map, preserving_proto_field_name=True)}}


class RestServer(ThreadingHTTPServer):
    """The REST front end: a threading HTTP server bound to host:port."""

    daemon_threads = True

    def __init__(self, servables: Servables, host: str, port: int,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES):
        super().__init__((host, port), Handler)
        self.servables = servables
        self.max_request_bytes = max_request_bytes
