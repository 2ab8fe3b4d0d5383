"""Serving pushed models: TF Serving's REST and gRPC APIs, its configs, the client."""

import components  # noqa: F401 - sets TensorFlow's environment before anything imports it
