"""The pushed model served over TF Serving's REST and gRPC APIs: answers, errors, new versions."""

import base64
import json
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from pipeline.data_tools.demo import CLASSES, draw_shape, encode
from serving.server import LocalServer

MODEL = "shapes"


@pytest.fixture(scope="module")
def server(demo_run, tmp_path_factory):
    """The demo run's pushed model, copied to its own base path and served on free ports."""
    assert demo_run["result"].returncode == 0
    pushed = sorted((demo_run["output"] / "serving" / MODEL).iterdir())[0]
    base = tmp_path_factory.mktemp("serving") / MODEL
    shutil.copytree(pushed, base / "1")
    server = LocalServer(MODEL, str(base), rest_port=0, grpc_port=0, poll_seconds=0.2,
                         max_request_bytes=2_000_000)
    server.start()
    yield server, base
    server.stop()


def _url(server, suffix=""):
    return f"http://127.0.0.1:{server[0].rest_port}/v1/models/{MODEL}{suffix}"


def _images(seed=7, size=(72, 72)):
    rng = np.random.default_rng(seed)
    return [(shape, encode(draw_shape(shape, rng, size), fmt))
            for shape in CLASSES for fmt in ("JPEG", "PNG")]


def _b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def test_rest_predicts_real_jpeg_and_png(server):
    images = [image for _ in range(4) for image in _images(seed=_ + 20)]
    response = requests.post(_url(server, ":predict"),
                             json={"instances": [_b64(data) for _, data in images]})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    right = [p["class_name"] == truth for p, (truth, _) in zip(predictions, images, strict=True)]
    assert np.mean(right) >= 0.7, np.mean(right)
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-4 for p in predictions)
    # The columnar format gives the same answer.
    columnar = requests.post(_url(server, ":predict"),
                             json={"inputs": {"image_bytes": [_b64(d) for _, d in images[:2]]}})
    assert columnar.json()["outputs"]["class_name"] == [p["class_name"] for p in predictions[:2]]


def test_status_and_metadata_over_rest(server):
    status = requests.get(_url(server)).json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    metadata = requests.get(_url(server, "/metadata")).json()
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "serving_examples"} <= set(signatures)
    assert "image_bytes" in signatures["serving_default"]["inputs"]


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{not json", 400, "JSON Parse error"),
    (json.dumps({"instances": [{"b64": "%%%not base64"}]}).encode(), 400, "base64"),
    (json.dumps({"instances": [_b64(b"plain text, not an image")]}).encode(), 400,
     "Unknown image file format"),
    (json.dumps({"instances": []}).encode(), 400, "non-empty"),
    (json.dumps({"signature_name": "nope", "instances": [_b64(b"x")]}).encode(), 400,
     "not found in signature def"),
    (json.dumps({"inputs": {"wrong_name": [_b64(b"x")]}}).encode(), 400, "wrong_name"),
])
def test_bad_requests_get_400_with_a_message_and_the_server_keeps_serving(server, body, status,
                                                                         message):
    response = requests.post(_url(server, ":predict"), data=body)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert requests.get(_url(server)).status_code == 200


def test_unknown_model_version_label_and_oversized_body(server):
    base = f"http://127.0.0.1:{server[0].rest_port}/v1/models"
    assert requests.get(f"{base}/other").status_code == 404
    assert "Servable not found" in requests.get(f"{base}/other").json()["error"]
    assert requests.get(_url(server, "/versions/999")).status_code == 404
    assert requests.get(_url(server, "/labels/nope/metadata")).status_code == 400
    assert requests.get(f"{base}/..%2F..%2Fetc").status_code in (400, 404)
    big = b'{"instances": ["' + b"a" * 2_100_000 + b'"]}'
    response = requests.post(_url(server, ":predict"), data=big)
    assert response.status_code == 413 and "exceeds" in response.json()["error"]


def test_grpc_predict_classify_metadata_and_status(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server[0].grpc_port}")
    prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    images = _images(seed=31)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([d for _, d in images]))
    response = prediction.Predict(request, timeout=60)
    names = [n.decode() for n in tf.make_ndarray(response.outputs["class_name"])]
    assert np.mean([n == t for n, (t, _) in zip(names, images, strict=True)]) >= 0.6

    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = MODEL
    example = classify.input.example_list.examples.add()
    example.features.feature["image_raw"].bytes_list.value.append(images[0][1])
    result = prediction.Classify(classify, timeout=60).result.classifications[0]
    assert [c.label for c in result.classes] == list(CLASSES)

    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest()
    metadata_request.model_spec.name = MODEL
    metadata_request.metadata_field.append("signature_def")
    metadata = prediction.GetModelMetadata(metadata_request, timeout=30)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signature_map)
    assert {"serving_default", "serving_examples"} <= set(signature_map.signature_def)

    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = MODEL
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request)
    assert status.model_version_status[0].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE

    request.model_spec.name = "unknown"
    with pytest.raises(grpc.RpcError) as error:
        prediction.Predict(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_new_version_is_picked_up_and_a_half_written_one_is_not(server):
    local, base = server
    # Half-written: a version directory without its variables yet.
    partial = base / "5"
    partial.mkdir()
    shutil.copy(base / "1" / "saved_model.pb", partial / "saved_model.pb")
    time.sleep(1.0)
    assert local.store.latest().version == 1
    # While clients keep asking, a complete version 6 arrives (copied under a temporary
    # name, then renamed, as the Pusher does) and becomes the served one.
    failures, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            response = requests.post(_url(server, ":predict"),
                                     json={"instances": [_b64(_images()[0][1])]})
            if response.status_code != 200:
                failures.append(response.text)

    thread = threading.Thread(target=client)
    thread.start()
    shutil.copytree(base / "1", base / ".tmp-6")
    (base / ".tmp-6").rename(base / "6")
    deadline = time.time() + 30
    while time.time() < deadline and local.store.latest().version != 6:
        time.sleep(0.2)
    stop.set()
    thread.join()
    assert local.store.latest().version == 6
    assert requests.get(_url(server, "/versions/6")).status_code == 200
    assert failures == []
    shutil.rmtree(partial)


def test_pushed_versions_carry_warmup_requests_and_no_temporary_folders(demo_run):
    from tensorflow_serving.apis import prediction_log_pb2

    base = demo_run["output"] / "serving" / MODEL
    assert [p.name for p in base.iterdir() if not p.name.isdigit()] == []
    version = sorted(base.iterdir())[0]
    records = list(tf.data.TFRecordDataset(
        str(version / "assets.extra" / "tf_serving_warmup_requests")))
    assert records
    request = prediction_log_pb2.PredictionLog.FromString(records[0].numpy()).predict_log.request
    image = tf.make_ndarray(request.inputs["image_bytes"])[0]
    assert tf.io.decode_jpeg(image).shape == (64, 64, 3)  # the model's input size


def test_predict_command_over_rest_and_grpc(server, tmp_path):
    from conftest import run_cli

    rng = np.random.default_rng(99)
    image = tmp_path / "square.jpg"
    image.write_bytes(encode(draw_shape("square", rng, (80, 80)), "JPEG"))
    rest = run_cli("predict", str(image), "--server", f"127.0.0.1:{server[0].rest_port}",
                   "--name", MODEL, "--top-k", "2", timeout=120)
    assert rest.returncode == 0, rest.stderr
    assert "version 6" in rest.stdout or "version 1" in rest.stdout
    assert rest.stdout.count("0.") >= 2 and "square" in rest.stdout
    via_grpc = run_cli("predict", str(image), "--grpc", f"127.0.0.1:{server[0].grpc_port}",
                       "--name", MODEL, timeout=120)
    assert via_grpc.returncode == 0, via_grpc.stderr
    assert "ms)" in via_grpc.stdout and all(c in via_grpc.stdout for c in CLASSES)
    unknown = run_cli("predict", str(image), "--server", f"127.0.0.1:{server[0].rest_port}",
                      "--name", "nope", timeout=120)
    assert unknown.returncode == 1 and "HTTP 404" in unknown.stderr


def test_server_side_batching_answers_each_request_with_its_own_rows(server):
    from concurrent.futures import ThreadPoolExecutor

    from serving.batching import Batcher
    from serving.inference import ServingError, run_signature

    loaded = server[0].store.latest()
    batcher = Batcher(max_batch_size=8, batch_timeout_micros=50_000)
    images = [data for _, data in _images(seed=5)] + [b"not an image"]
    expected = [run_signature(loaded, None, {"image_bytes": [d]})["probabilities"][0]
                for d in images[:-1]]

    def ask(data):
        return batcher.run(loaded, None, {"image_bytes": [data]})

    with ThreadPoolExecutor(len(images)) as pool:
        futures = [pool.submit(ask, data) for data in images]
    for future, probabilities in zip(futures[:-1], expected, strict=True):
        np.testing.assert_allclose(future.result()["probabilities"][0], probabilities, atol=1e-5)
    with pytest.raises(ServingError, match="Unknown image file format"):
        futures[-1].result()


def test_a_thousand_instances_are_answered_and_more_than_the_cap_refused(server):
    data = encode(draw_shape("circle", np.random.default_rng(1), (16, 16)), "JPEG")  # < 1 KB
    response = requests.post(_url(server, ":predict"),
                             json={"instances": [_b64(data)] * 1000}, timeout=300)
    assert response.status_code == 200 and len(response.json()["predictions"]) == 1000
    response = requests.post(_url(server, ":predict"), json={"instances": [_b64(b"x")] * 1025})
    assert response.status_code == 400 and "exceeds 1024" in response.json()["error"]
    assert requests.get(_url(server)).status_code == 200
