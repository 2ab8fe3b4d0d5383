"""The Evaluator, with the model currently served as its baseline: a gate every orchestrator runs.

TFX's usual baseline comes from a LatestBlessedModelStrategy resolver node, which the
Kubeflow V2 compiler turns into `outputArtifactQueries`: Vertex executes those,
open-source KFP does not, so there a worse model could replace a better one. Here the
executor itself resolves the baseline when it runs: the newest complete version under
the serving base path (what the Pusher wrote; only blessed models get there). The same
code runs under the local runner, open-source KFP and Vertex. With no served version
(the first run) only the value thresholds apply; a served model whose classes differ
from this run's is not compared (the metrics would not mean the same), and the
blessing says so.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
import tensorflow_model_analysis as tfma
from absl import logging
from google.protobuf import json_format
from tfx import types
from tfx.components import Evaluator
from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import artifact_utils, component_spec, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, json_utils, path_utils

from components.common import features, label_vocabulary
from components.common.served_versions import newest_complete_version
from components.evaluator import blessing_split

SERVING_BASE_PATH_KEY = "serving_base_path"
BASELINE_PROPERTY = "baseline"  # on the blessing: the served version compared with, or why none


class ServedBaselineEvaluatorSpec(standard_component_specs.EvaluatorSpec):
    """TFX's Evaluator spec plus the serving base path to take the baseline from."""

    PARAMETERS = {
        **standard_component_specs.EvaluatorSpec.PARAMETERS,
        SERVING_BASE_PATH_KEY: component_spec.ExecutionParameter(type=str, optional=True),
    }


def served_baseline(serving_base_path: str, class_names: list[str], scratch: str
                    ) -> tuple[types.Artifact | None, str]:
    """(a Model artifact of the served version, what it is), or (None, why there is none)."""
    found = newest_complete_version(serving_base_path) if serving_base_path else None
    if found is None:
        return None, "none: nothing served yet, the value thresholds alone apply"
    version, path = found
    vocabulary = label_vocabulary.in_saved_model(path)
    served_classes = label_vocabulary.read(vocabulary) if tf.io.gfile.exists(vocabulary) else []
    if served_classes != class_names:
        return None, (f"none: served version {version} has the classes {served_classes}, this "
                      f"run {class_names}; not compared")
    # TFX reads a Model artifact's SavedModel from <uri>/Format-Serving: a copy of the
    # served version goes there. Never a symbolic link: TFX removes the executor's scratch
    # folder afterwards with gfile's rmtree, which follows links and would empty the
    # served version itself.
    model = standard_artifacts.Model()
    model.uri = os.path.join(scratch, "served_baseline")
    tf.io.gfile.makedirs(model.uri)
    io_utils.copy_dir(path, path_utils.serving_model_dir(model.uri))
    return model, f"served version {version} ({path})"


def measurable_classes_only(exec_properties: dict[str, Any], examples_uri: str,
                            split: str) -> str:
    """The eval config (JSON) without the recall thresholds of classes the split has no image
    of: their recall cannot be measured there (the layout warned), so it gates nothing."""
    config = tfma.EvalConfig()
    json_format.Parse(exec_properties[standard_component_specs.EVAL_CONFIG_KEY], config)
    with tf.io.gfile.GFile(os.path.join(examples_uri, features.QUARANTINE_REPORT_FILE)) as f:
        counts = json.load(f).get(features.CLASS_COUNTS_PROPERTY, {}).get(split)
    if counts is None:
        return exec_properties[standard_component_specs.EVAL_CONFIG_KEY]
    absent = {features.recall_metric_name(name) for name, count in counts.items() if not count}
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            if metric.HasField("threshold") and json.loads(metric.config or "{}").get(
                    "name") in absent:
                logging.info("Evaluator: %s gates nothing (no %s image)", metric.config, split)
                metric.ClearField("threshold")
    return json_format.MessageToJson(config)


class Executor(tfx_evaluator.Executor):
    """TFX's Evaluator executor, after resolving the served baseline; then the blessing
    split described (blessing_split.py: every metric, the verdict's pictures)."""

    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> None:
        input_dict = dict(input_dict)
        note = "none: --no-baseline"
        base_path = exec_properties.get(SERVING_BASE_PATH_KEY) or ""
        examples = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.EXAMPLES_KEY])
        class_names = label_vocabulary.read(os.path.join(examples.uri, label_vocabulary.FILE_NAME))
        split = json_utils.loads(exec_properties[standard_component_specs.EXAMPLE_SPLITS_KEY])[0]
        exec_properties = {**exec_properties, standard_component_specs.EVAL_CONFIG_KEY:
                           measurable_classes_only(exec_properties, examples.uri, split)}
        if base_path and not input_dict.get(standard_component_specs.BASELINE_MODEL_KEY):
            baseline, note = served_baseline(base_path, class_names, self._get_tmp_dir())
            if baseline is not None:
                input_dict[standard_component_specs.BASELINE_MODEL_KEY] = [baseline]
        logging.info("Evaluator baseline: %s", note)
        super().Do(input_dict, output_dict, exec_properties)
        blessing = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.BLESSING_KEY])
        blessing.set_string_custom_property(BASELINE_PROPERTY, note)
        # The served baseline is no artifact of any store: its id (0) means nothing, and
        # TFX's Kubeflow entrypoint would fail looking it up (refactor_model_blessing).
        # BASELINE_PROPERTY says what was compared.
        properties = blessing.mlmd_artifact.custom_properties
        if evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY in properties:
            del properties[evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY]
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        evaluation = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EVALUATION_KEY])
        blessing_split.describe(
            path_utils.serving_model_path(model.uri),
            os.path.join(artifact_utils.get_split_uri([examples], split), "*"),
            class_names, evaluation.uri, split)


class ServedBaselineEvaluator(Evaluator):
    """TFX's Evaluator component whose baseline is the model served under serving_base_path."""

    SPEC_CLASS = ServedBaselineEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel, eval_config,
                 example_splits: list[str], serving_base_path: str = ""):
        """serving_base_path: where the Pusher pushes; empty for no baseline (--no-baseline)."""
        spec = ServedBaselineEvaluatorSpec(
            examples=examples, model=model, baseline_model=None, feature_slicing_spec=None,
            fairness_indicator_thresholds=json_utils.dumps(None),
            example_splits=json_utils.dumps(example_splits), eval_config=eval_config,
            schema=None, module_file=None, module_path=None,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            **{SERVING_BASE_PATH_KEY: serving_base_path},
        )
        # Evaluator.__init__ builds TFX's own spec; build ours and go to the Beam component
        # base, keeping Evaluator as the type TFX's runners and compilers recognise.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
