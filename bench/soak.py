"""Reliability soak (issue 6): load with a version switch, and ExampleGen memory vs data size.

    python -m bench.soak --report SOAK.md [--seconds 30] [--images 20000]

1. 8 concurrent clients (4 REST, 4 gRPC) against `visionpipe serve` for --seconds, while a new
   version is pushed a third of the way in (copied under a temporary name, then renamed, as the
   Pusher does). Every request must succeed; p50/p99 before, during and after the switch; the
   server's peak RSS.
2. The ImageExampleGen and Transform executors on N/4 and N generated small images, each size
   in its own process: peak RSS must not grow with N.
Loopback only, a fixed duration and size: it stops by itself.
"""

import argparse
import base64
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import psutil
import requests
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from bench.common import REPO, finish, report_header, report_option
from bench.serving_benchmarks import MODEL, push_model, start_server
from pipeline.data_tools.demo import draw_shape, encode

EXAMPLE_GEN_PROBE = """
import json, os, resource, shutil, sys
sys.path.insert(0, sys.argv[3])
from tfx.components.transform.executor import Executor as TransformExecutor
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts
from components.image_example_gen.component import executor_properties
from components.image_example_gen.executor import Executor
from components.image_example_gen.sources.image_folder import discover
context = BaseBeamExecutor.Context(beam_pipeline_args=["--runner=FnApiRunner"])
examples = standard_artifacts.Examples()
examples.uri = sys.argv[2] + "/examples"
Executor(context).Do({}, {"examples": [examples]},
                     executor_properties(sys.argv[1], discover(sys.argv[1]).inputs))
after_example_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
schema = standard_artifacts.Schema()
schema.uri = sys.argv[2] + "/schema"
os.makedirs(schema.uri)
shutil.copy(os.path.join(sys.argv[3], "schemas", "demo.pbtxt"), schema.uri + "/schema.pbtxt")
graph = standard_artifacts.TransformGraph()
graph.uri = sys.argv[2] + "/transform_graph"
TransformExecutor(context).Do(
    {"examples": [examples], "schema": [schema]}, {"transform_graph": [graph]},
    {"preprocessing_fn": "components.transform.preprocessing.preprocessing_fn",
     "custom_config": json.dumps({"image_spec": {"height": 32, "width": 32, "channels": 3}}),
     "disable_statistics": 1, "force_tf_compat_v1": 0})
print(after_example_gen, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def load_with_switch(work: Path, seconds: float) -> list[str]:
    base = push_model(work)
    first = sorted(base.iterdir())[0]
    process, rest_port, grpc_port = start_server(base, batching=False)
    server = psutil.Process(process.pid)
    image = encode(draw_shape("circle", np.random.default_rng(0), (150, 150)), "JPEG")
    body = {"instances": [{"b64": base64.b64encode(image).decode()}]}
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([image]))
    records: list[tuple[float, float, bool, str]] = []  # (start, ms, ok, version)
    lock, stop = threading.Lock(), threading.Event()
    started = time.perf_counter()

    def rest_client():
        session = requests.Session()
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                ok = session.post(f"http://127.0.0.1:{rest_port}/v1/models/{MODEL}:predict",
                                  json=body, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                records.append((t0 - started, (time.perf_counter() - t0) * 1000, ok, "rest"))

    def grpc_client():
        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                version = str(stub.Predict(request, timeout=30).model_spec.version.value)
                ok = True
            except grpc.RpcError:
                ok, version = False, "error"
            with lock:
                records.append((t0 - started, (time.perf_counter() - t0) * 1000, ok, version))

    threads = [threading.Thread(target=rest_client) for _ in range(4)]
    threads += [threading.Thread(target=grpc_client) for _ in range(4)]
    peak = [0]

    def watch_memory():
        while not stop.is_set():
            peak[0] = max(peak[0], server.memory_info().rss)
            time.sleep(0.2)

    threads.append(threading.Thread(target=watch_memory))
    for thread in threads:
        thread.start()
    time.sleep(seconds / 3)
    switch_at = time.perf_counter() - started
    new_version = str(int(first.name) + 1)
    shutil.copytree(first, base / f".tmp-{new_version}")
    (base / f".tmp-{new_version}").rename(base / new_version)
    time.sleep(seconds * 2 / 3)
    stop.set()
    for thread in threads:
        thread.join()
    process.terminate()
    process.wait(timeout=30)
    switched = min((t for t, _, ok, v in records if v == new_version), default=None)
    windows = {"before the push": (0, switch_at),
               "push until served": (switch_at, switched or seconds),
               "after the switch": (switched or seconds, seconds + 60)}
    lines = ["### Load: 8 clients (4 REST + 4 gRPC) for "
             f"{seconds:.0f} s, a new version pushed at {switch_at:.1f} s", "",
             "| window | requests | failed | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    for name, (low, high) in windows.items():
        chosen = [r for r in records if low <= r[0] < high]
        latencies = [r[1] for r in chosen] or [0.0]
        lines.append(f"| {name} | {len(chosen)} | {sum(not r[2] for r in chosen)} | "
                     f"{np.percentile(latencies, 50):.1f} | {np.percentile(latencies, 99):.1f} |")
    failed = sum(not r[2] for r in records)
    answered = (f"the new version answered from {switched:.1f} s" if switched
                else "the new version never answered")
    lines += ["", f"Total {len(records)} requests, {failed} failed; {answered}; server peak RSS "
              f"{peak[0] / 2**20:,.0f} MB.", ""]
    return lines


def example_gen_memory(work: Path, total: int) -> list[str]:
    rows = []
    for count in (total // 4, total):
        data = work / f"small-{count}"
        rng = np.random.default_rng(count)
        for i in range(count):
            folder = data / ("a" if i % 2 else "b")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}.png").write_bytes(encode(draw_shape("square", rng, (32, 32)), "PNG"))
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", EXAMPLE_GEN_PROBE, str(data),
                                 str(work / f"out-{count}"), str(REPO)],
                                capture_output=True, text=True, check=True)
        example_gen_kb, total_kb = map(int, result.stdout.strip().splitlines()[-1].split())
        rows.append((count, example_gen_kb / 1024, total_kb / 1024, time.perf_counter() - started))
        shutil.rmtree(data)
    lines = ["### ExampleGen -> Transform peak memory vs data set size (32 px PNGs, 1 Beam worker)",
             "", "| images | peak RSS after ExampleGen, MB | peak RSS after Transform, MB | seconds |",
             "|---|---|---|---|"]
    lines += [f"| {count:,} | {eg:,.0f} | {tr:,.0f} | {s:.0f} |" for count, eg, tr, s in rows]
    growth = rows[1][2] / rows[0][2]
    lines += ["", f"{rows[1][0] // rows[0][0]}x the images: {growth:.2f}x the peak memory.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-soak-"))
    lines = report_header("## Reliability soak (issue 6)", "bench/soak.py")
    if not args.skip_load:
        lines += load_with_switch(work, args.seconds)
    print("\n".join(lines), flush=True)
    lines += example_gen_memory(work, args.images)
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
