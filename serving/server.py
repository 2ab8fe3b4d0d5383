"""`visionpipe serve`: TF Serving when it is installed, else the local server with its APIs.

The local server serves one model base path (the Pusher's output) over TF Serving's
REST and gRPC APIs, watches it for new versions, binds 127.0.0.1 unless told otherwise
and caps the request size.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

from components.common import features
from serving.batching import Batcher
from serving.grpc_server import grpc_server
from serving.inference import Servables
from serving.model_store import ModelStore
from serving.rest import DEFAULT_MAX_REQUEST_BYTES, RestServer

TF_SERVING_BINARY = "tensorflow_model_server"
log = logging.getLogger("visionpipe.serving")


def tf_serving_command(model_name: str, model_base_path: str, rest_port: int, grpc_port: int,
                       host: str, enable_batching: bool = False) -> list[str] | None:
    """The tensorflow_model_server command line for the same model, or None if not installed."""
    binary = shutil.which(TF_SERVING_BINARY)
    if binary is None:
        return None
    del host  # tensorflow_model_server binds every interface; restrict it with the network
    return [binary, f"--model_name={model_name}", f"--model_base_path={model_base_path}",
            f"--rest_api_port={rest_port}", f"--port={grpc_port}",
            "--file_system_poll_wait_seconds=1", f"--enable_batching={str(enable_batching).lower()}"]


class LocalServer:
    """REST + gRPC over one ModelStore; start() returns when both listen."""

    def __init__(self, model_name: str, model_base_path: str, rest_port: int = 8501,
                 grpc_port: int = 8500, host: str = "127.0.0.1", poll_seconds: float = 1.0,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
                 batching: Batcher | None = None):
        if not features.MODEL_NAME.match(model_name):
            raise ValueError(f"model name {model_name!r}: use letters, digits, '.', '_' or '-'")
        self.store = ModelStore(model_name, model_base_path, poll_seconds)
        self.servables = Servables({model_name: self.store}, batcher=batching)
        self.rest = RestServer(self.servables, host, rest_port, max_request_bytes)
        self.grpc, self.grpc_port = grpc_server(self.servables, host, grpc_port)
        self.rest_port = self.rest.server_address[1]
        self._threads: list[threading.Thread] = []

    def start(self, wait_for_model: float = 60.0) -> None:
        self.store.wait_until_loaded(wait_for_model)
        self.store.start()
        self.grpc.start()
        thread = threading.Thread(target=self.rest.serve_forever, name="rest", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self.rest.shutdown()
        self.rest.server_close()
        self.grpc.stop(grace=2).wait()
        self.store.stop()


def serve(model_name: str, model_base_path: str, rest_port: int, grpc_port: int, host: str,
          max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES, enable_batching: bool = False) -> int:
    """Serves until interrupted; TF Serving itself when its binary is on PATH."""
    command = tf_serving_command(model_name, model_base_path, rest_port, grpc_port, host,
                                 enable_batching)
    if command is not None:
        print("Running", " ".join(command), flush=True)
        return subprocess.call(command)
    server = LocalServer(model_name, model_base_path, rest_port, grpc_port, host,
                         max_request_bytes=max_request_bytes,
                         batching=Batcher() if enable_batching else None)
    server.start()
    print(f"Serving {model_name} version {server.store.latest().version} from {model_base_path}: "
          f"REST http://{host}:{server.rest_port}/v1/models/{model_name}, gRPC {host}:{server.grpc_port}",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
