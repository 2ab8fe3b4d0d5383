"""TF Serving's gRPC API from the official `tensorflow_serving.apis` stubs.

PredictionService: Predict, Classify, GetModelMetadata; ModelService: GetModelStatus.
Message size limits are raised for images (tensorflow/serving#1382).
"""

from __future__ import annotations

from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from components.common import features
from serving.inference import (
    Servables,
    ServingError,
    class_names,
    run_signature,
    signature_defs,
)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
GRPC_CODE = {"INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
             "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
             "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION}


def _resolve(servables: Servables, model_spec):
    version = model_spec.version.value if model_spec.HasField("version") else None
    label = model_spec.version_label or None
    return servables.resolve(model_spec.name, version, label)


def _abort(context: grpc.ServicerContext, error: ServingError):
    context.abort(GRPC_CODE.get(error.code, grpc.StatusCode.INVALID_ARGUMENT), error.message)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, servables: Servables):
        self._servables = servables

    def Predict(self, request: predict_pb2.PredictRequest, context):  # noqa: N802
        try:
            loaded = _resolve(self._servables, request.model_spec)
            inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            outputs = self._servables.run(loaded, request.model_spec.signature_name or None, inputs)
        except ServingError as error:
            _abort(context, error)
        except (TypeError, ValueError) as error:
            _abort(context, ServingError("INVALID_ARGUMENT", f"bad input tensor: {error}"))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = (request.model_spec.signature_name
                                              or features.SERVING_SIGNATURE)
        filtered = set(request.output_filter) or set(outputs)
        for name, value in outputs.items():
            if name in filtered:
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def Classify(self, request: classification_pb2.ClassificationRequest, context):  # noqa: N802
        try:
            loaded = _resolve(self._servables, request.model_spec)
            examples = [e.SerializeToString() for e in request.input.example_list.examples]
            if not examples:
                raise ServingError("INVALID_ARGUMENT", "Input is empty")
            outputs = run_signature(
                loaded, request.model_spec.signature_name or features.EXAMPLES_SIGNATURE,
                {features.EXAMPLES_INPUT: examples})
        except ServingError as error:
            _abort(context, error)
        names = class_names(loaded)
        response = classification_pb2.ClassificationResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = loaded.version
        for row in outputs[features.PROBABILITIES]:
            classifications = response.result.classifications.add()
            for name, score in zip(names, row, strict=True):
                classifications.classes.add(label=name, score=float(score))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            loaded = _resolve(self._servables, request.model_spec)
            if list(request.metadata_field) != ["signature_def"]:
                raise ServingError("INVALID_ARGUMENT",
                                   "Metadata field must be exactly [\"signature_def\"]")
        except ServingError as error:
            _abort(context, error)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in signature_defs(loaded).items():
            signature_map.signature_def[key].CopyFrom(value)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = loaded.version
        response.metadata["signature_def"].Pack(signature_map)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, servables: Servables):
        self._servables = servables

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            loaded = _resolve(self._servables, request.model_spec)
        except ServingError as error:
            _abort(context, error)
        versions = ([loaded.version] if request.model_spec.HasField("version")
                    else self._servables.stores[request.model_spec.name].loaded_versions())
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in versions:
            status = response.model_version_status.add()
            status.version = version
            status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


def grpc_server(servables: Servables, host: str, port: int,
                workers: int = 8) -> tuple[grpc.Server, int]:
    """A gRPC server (not yet started) with both services on host:port, and the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(servables), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(servables), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind the gRPC port {host}:{port}")
    return server, bound
