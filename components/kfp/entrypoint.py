"""Every task's entrypoint on Kubeflow: TFX's V2 executor runner, between what KFP expects.

Before it:
- open-source KFP's driver hands a task its input artifacts without the type TFX compiled
  into the spec (an empty instance schema), where Vertex passes it; TFX's runner then
  cannot tell an Examples artifact from a Model and fails ("local variable 'title'
  referenced before assignment"); sky-uk/kfp-operator's tfx-patch documents the same gap
  for TFX 1.15-1.17. Compiled with pipeline spec 2.1, every executor also receives its
  component's inputs spec, which names each input artifact's type: the missing types are
  filled in from it;
- TensorFlow's s3:// filesystem is registered when the artifacts live in S3 or MinIO
  (object_store.py).
Then TFX's runner runs unchanged, as its own `__main__`. After it:
- the zero-byte folder markers below the task's outputs are removed (object_store.py:
  otherwise KFP's launcher fails the next task when it downloads them);
- the process ends with the runner's exit code (object_store.exit_process: tensorflow-io's
  S3 client would abort a task that succeeded, and KFP would count it as failed).
"""

from __future__ import annotations

import json
import runpy
import sys

from components.kfp import object_store

TFX_RUNNER = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
COMMAND = ["python", "-m", "components.kfp.entrypoint"]
INVOCATION_FLAG = "--json_serialized_invocation_args"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"


def typed(executor_input: dict, inputs_spec: dict) -> dict:
    """The executor input with each untyped input artifact given its type from the inputs spec."""
    declared = inputs_spec.get("artifacts", {})
    for name, artifacts in executor_input.get("inputs", {}).get("artifacts", {}).items():
        artifact_type = declared.get(name, {}).get("artifactType")
        for artifact in artifacts.get("artifacts", []):
            given = artifact.get("type") or {}
            if artifact_type and not (given.get("instanceSchema")
                                      or given.get("schemaTitle", "").startswith("tfx.")):
                artifact["type"] = artifact_type
    return executor_input


def _flag_value(argv: list[str], flag: str) -> int | None:
    """The position of a flag's value in argv (`--flag value` or `--flag=value`)."""
    for position, arg in enumerate(argv):
        if arg == flag:
            return position + 1
        if arg.startswith(flag + "="):
            return position
    return None


def typed_argv(argv: list[str]) -> list[str]:
    """argv with the invocation JSON's input artifacts typed (unchanged without an inputs spec)."""
    argv = list(argv)
    invocation, spec = _flag_value(argv, INVOCATION_FLAG), _flag_value(argv, INPUTS_SPEC_FLAG)
    if invocation is None or spec is None:
        return argv

    def value(position: int) -> str:
        return argv[position].split("=", 1)[1] if argv[position].startswith("--") else argv[
            position]

    fixed = json.dumps(typed(json.loads(value(invocation)), json.loads(value(spec))))
    argv[invocation] = (f"{INVOCATION_FLAG}={fixed}" if argv[invocation].startswith("--")
                        else fixed)
    return argv


def output_uris(argv: list[str]) -> list[str]:
    """The URIs of the task's output artifacts, from its invocation JSON."""
    position = _flag_value(argv, INVOCATION_FLAG)
    if position is None:
        return []
    text = argv[position].split("=", 1)[1] if argv[position].startswith("--") else argv[position]
    outputs = json.loads(text).get("outputs", {}).get("artifacts", {})
    return [artifact["uri"] for artifacts in outputs.values()
            for artifact in artifacts.get("artifacts", [])]


def run(argv: list[str]) -> int:
    """Runs TFX's runner on argv (typed), then cleans the outputs; returns the exit code."""
    argv = typed_argv(argv)
    outputs = output_uris(argv)
    object_store.use_filesystems(argv)
    sys.argv = [sys.argv[0], *argv]
    try:
        runpy.run_module(TFX_RUNNER, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:  # absl's app.run ends with sys.exit
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    if code == 0:
        for marker in object_store.remove_directory_markers(outputs):
            print(f"removed the directory marker {marker}", file=sys.stderr)
    return code


if __name__ == "__main__":
    object_store.exit_process(run(sys.argv[1:]))  # see the module doc
