"""The pipeline: its one config, its DAG, the runners, the CLI, what a run reports, data tools."""

import components  # noqa: F401 - sets TensorFlow's environment before anything imports it
