"""The ImageExampleGen's driver: TFX's span/version resolution plus a whole-tree fingerprint."""

from __future__ import annotations

from typing import Any

from tfx.components.example_gen import driver, utils
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen import sources
from components.image_example_gen.executor import INGEST_OPTIONS_KEY
from components.image_example_gen.options import IngestOptions


class ImageFolderDriver(driver.FileBasedDriver):
    """Resolves {SPAN}/{VERSION} as TFX does, then fingerprints the input as its source does
    (for folders: every file below each split, at any depth)."""

    def resolve_exec_properties(self, exec_properties: dict[str, Any], pipeline_info,
                                component_info) -> dict[str, Any]:
        exec_properties = super().resolve_exec_properties(
            exec_properties, pipeline_info, component_info
        )
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        options = IngestOptions.from_json(exec_properties.get(INGEST_OPTIONS_KEY))
        exec_properties[utils.FINGERPRINT_PROPERTY_NAME] = sources.source(
            options.data_format).fingerprint(
            exec_properties[standard_component_specs.INPUT_BASE_KEY],
            [split.pattern for split in input_config.splits],
        )
        return exec_properties
