"""DataFingerprint: a fingerprint of every input file, as a value the ExampleGen's cache key sees.

Open-source Kubeflow Pipelines computes a task's cache key from its inputs, command and
image, and runs no lifecycle hook (its driver's cache.go): the ExampleGen's key there is
its constant parameters, so images added to a class folder would not re-run it. Compiled
for Kubeflow, this task runs first, uncached, and hands the fingerprint of every file
below the inputs (the local runner's driver's) to the ExampleGen as an execution
parameter, so the key changes exactly when the data does. (Vertex runs the ExampleGen's
preCacheCheck hook, example_gen_driver.py, which gives it the same fingerprint.)
"""

from typing import TypedDict

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2
from tfx.utils import proto_utils

from components.kfp.example_gen_driver import TreeFingerprintProcessor


def fingerprint_of(input_base: str, input_config_json: str) -> str:
    """The newest span's (and version's) fingerprint of every file below each input split."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(input_config_json, input_config)
    processor = TreeFingerprintProcessor(input_base, input_config.splits)
    span, version = processor.resolve_span_and_version()
    return processor.get_input_fingerprint(span, version)


class Fingerprint(TypedDict):
    fingerprint: str


@tfx.dsl.components.component
def DataFingerprint(  # noqa: N802 - TFX components are named like classes
    input_base: tfx.dsl.components.Parameter[str],
    input_config: tfx.dsl.components.Parameter[str],
) -> Fingerprint:
    """The fingerprint of the ExampleGen's inputs (see the module doc)."""
    return {"fingerprint": fingerprint_of(input_base, input_config)}
