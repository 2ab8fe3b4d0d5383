"""`visionpipe predict IMAGE...`: ask a TF Serving model (REST or gRPC) and print the top classes."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import requests
from tabulate import tabulate

from components.common import features


@dataclass
class Answer:
    """One image's answer: (class, probability) pairs, best first, who answered and how fast."""

    image: str
    top: list[tuple[str, float]]
    version: str
    milliseconds: float


def _top(probabilities: list[float], names: list[str], k: int) -> list[tuple[str, float]]:
    ranked = sorted(zip(names, probabilities, strict=True), key=lambda pair: -pair[1])
    return [(name, float(p)) for name, p in ranked[:k]]


def predict_rest(server: str, model: str, image: str, data: bytes, top_k: int) -> Answer:
    """One :predict call over REST ({"b64": ...} instance)."""
    base = server if server.startswith("http") else f"http://{server}"
    started = time.perf_counter()
    response = requests.post(f"{base}/v1/models/{model}:predict", timeout=60,
                             json={"instances": [{"b64": base64.b64encode(data).decode()}]})
    milliseconds = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{image}: HTTP {response.status_code}: "
                           f"{response.json().get('error', response.text)[:300]}")
    prediction = response.json()["predictions"][0]
    names = prediction[features.CLASSES]
    status = requests.get(f"{base}/v1/models/{model}", timeout=10).json()
    versions = [s["version"] for s in status.get("model_version_status", [])
                if s.get("state") == "AVAILABLE"]
    version = max(versions, key=int) if versions else "?"
    return Answer(image, _top(prediction[features.PROBABILITIES], names, top_k), version,
                  milliseconds)


def predict_grpc(target: str, model: str, image: str, data: bytes, top_k: int) -> Answer:
    """One Predict call over gRPC with the official stubs; the response names the version."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from serving.grpc_server import MAX_MESSAGE_BYTES

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs[features.SERVING_INPUT].CopyFrom(tf.make_tensor_proto([data]))
    with grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]) as channel:
        started = time.perf_counter()
        try:
            response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                request, timeout=60)
        except grpc.RpcError as error:
            raise RuntimeError(f"{image}: gRPC {error.code().name}: {error.details()}") from None
        milliseconds = (time.perf_counter() - started) * 1000
    probabilities = tf.make_ndarray(response.outputs[features.PROBABILITIES])[0].tolist()
    names = [n.decode() for n in tf.make_ndarray(response.outputs[features.CLASSES])[0]]
    return Answer(image, _top(probabilities, names, top_k),
                  str(response.model_spec.version.value), milliseconds)


def upright_bytes(data: bytes) -> bytes:
    """TF Serving ignores EXIF orientation: send phone photos upright, as training saw them."""
    from components.image_example_gen.validation import upright_jpeg

    try:
        return upright_jpeg(data)
    except Exception:  # noqa: BLE001 - not an image PIL reads: let the server say why
        return data


def format_answers(answers: list[Answer]) -> str:
    """A table per image: rank, class, probability; then who answered and the latency."""
    blocks = []
    for answer in answers:
        rows = [(rank + 1, name, f"{p:.4f}") for rank, (name, p) in enumerate(answer.top)]
        blocks.append(f"{answer.image}  (version {answer.version}, {answer.milliseconds:.1f} ms)\n"
                      + tabulate(rows, headers=("rank", "class", "probability"),
                                 tablefmt="simple_outline"))
    return "\n\n".join(blocks)
