"""Serving latency and throughput (issue 4), measured side by side in one run; prints Markdown.

    python -m bench.serving_benchmarks --report BENCH.md

One 150x150 JPEG per request, against a model pushed by the pipeline at 150 px:
in-process calls of the SavedModel signature vs `visionpipe serve` (a separate process)
over REST and gRPC, 1 and 8 concurrent clients, without and with server-side batching.
Goal: server p50 <= 1.3x in-process p50 + 2 ms.
"""

import argparse
import base64
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import requests
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from bench.common import REPO, finish, report_option
from pipeline.data_tools.demo import draw_shape, encode, make_demo_data

REQUESTS_PER_CLIENT = 100
MODEL = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(latencies: list[float]) -> tuple[float, float]:
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))


def measure(call, clients: int) -> tuple[float, float, float]:
    """p50 ms, p99 ms, requests/s with `clients` threads each making REQUESTS_PER_CLIENT calls."""
    for _ in range(5):
        call()
    latencies: list[float] = []
    lock = threading.Lock()

    def client():
        mine = []
        for _ in range(REQUESTS_PER_CLIENT):
            started = time.perf_counter()
            call()
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    p50, p99 = percentiles(latencies)
    return p50, p99, len(latencies) / wall


def push_model(work: Path) -> Path:
    data = make_demo_data(work / "data", images_per_class=60)
    subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--data", str(data), "--name",
                    MODEL, "--output", str(work / "runs"), "--image-size", "150", "--epochs", "1",
                    "--steps-per-epoch", "2", "--min-accuracy", "0", "--min-class-recall", "0"],
                   cwd=REPO, check=True,
                   capture_output=True)
    return work / "runs" / "serving" / MODEL


def start_server(base: Path, batching: bool) -> tuple[subprocess.Popen, int, int]:
    rest, grpc_port = free_port(), free_port()
    command = [sys.executable, "-m", "pipeline.cli", "serve", "--model-base-path", str(base),
               "--name", MODEL, "--rest-port", str(rest), "--grpc-port", str(grpc_port)]
    if batching:
        command.append("--enable-batching")
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{rest}/v1/models/{MODEL}", timeout=1).ok:
                return process, rest, grpc_port
        except requests.ConnectionError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("the server did not come up: " + process.stderr.read().decode()[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-serving-bench-"))
    base = push_model(work)
    image = encode(draw_shape("circle", np.random.default_rng(0), (150, 150)), "JPEG")
    model = tf.saved_model.load(str(sorted(base.iterdir())[0]))
    signature = model.signatures["serving_default"]
    in_process = lambda: signature(image_bytes=tf.constant([image]))  # noqa: E731
    rows = [("in-process signature call", 1, *measure(in_process, 1))]
    base_p50 = rows[0][2]
    body = {"instances": [{"b64": base64.b64encode(image).decode()}]}
    for batching in (False, True):
        process, rest_port, grpc_port = start_server(base, batching)
        try:
            session_local = threading.local()

            def rest_call(port=rest_port, local=session_local):
                session = getattr(local, "session", None)
                if session is None:
                    session = local.session = requests.Session()
                response = session.post(f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict",
                                        json=body, timeout=60)
                response.raise_for_status()

            stub = prediction_service_pb2_grpc.PredictionServiceStub(
                grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
            request = predict_pb2.PredictRequest()
            request.model_spec.name = MODEL
            request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([image]))

            def grpc_call(stub=stub, request=request):
                stub.Predict(request, timeout=60)

            label = " + server-side batching" if batching else ""
            for clients in (1, 8):
                rows.append((f"REST{label}", clients, *measure(rest_call, clients)))
                print(rows[-1], flush=True)
                rows.append((f"gRPC{label}", clients, *measure(grpc_call, clients)))
                print(rows[-1], flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    lines = ["## Serving (issue 4)", "",
             f"Machine: {os.cpu_count()} cores; measured {time.strftime('%Y-%m-%d')} by "
             "`bench/serving_benchmarks.py`, all rows in one run. One 150x150 JPEG per request, "
             f"{REQUESTS_PER_CLIENT} requests per client, loopback; the server is "
             "`visionpipe serve` (the local server: no tensorflow_model_server here) in its own "
             "process. Goal: server p50 <= 1.3x in-process p50 + 2 ms "
             f"= {1.3 * base_p50 + 2:.1f} ms.", "",
             "| path | clients | p50 ms | p99 ms | requests/s | p50 within goal |",
             "|---|---|---|---|---|---|"]
    for name, clients, p50, p99, rate in rows:
        within = "-" if name.startswith("in-process") else (
            "yes" if p50 <= 1.3 * base_p50 + 2 else "no")
        lines.append(f"| {name} | {clients} | {p50:.1f} | {p99:.1f} | {rate:,.0f} | {within} |")
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
