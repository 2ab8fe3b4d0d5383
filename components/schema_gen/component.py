"""SchemaGen: TFX's own, whose inferred schema also carries the drift comparators
(components/common/drift.py) on the image measures, so that drift is part of the schema a
user exports and curates (`visionpipe schema export`)."""

from __future__ import annotations

import os

from tfx.components.schema_gen import component as tfx_schema_gen
from tfx.components.schema_gen import executor as tfx_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils

from components.common.drift import add_drift_comparators


class Executor(tfx_executor.Executor):
    """TFX's SchemaGen executor, then the drift comparators added to what it wrote."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        path = os.path.join(artifact_utils.get_single_uri(
            output_dict[standard_component_specs.SCHEMA_KEY]), tfx_executor.DEFAULT_FILE_NAME)
        schema = io_utils.SchemaReader().read(path)
        io_utils.write_pbtxt_file(path, add_drift_comparators(schema))


class SchemaGen(tfx_schema_gen.SchemaGen):  # the name `schema export` looks for
    """TFX's SchemaGen with drift comparators on the image measures."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
