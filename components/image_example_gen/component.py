"""ImageExampleGen: TFX's FileBasedExampleGen with the image executor, driver and options."""

from __future__ import annotations

from tfx import types
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import component_spec, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components import features
from components.image_example_gen.driver import ImageFolderDriver
from components.image_example_gen.executor import INGEST_OPTIONS_KEY, Executor
from components.image_example_gen.layout import WHOLE_TREE
from components.image_example_gen.options import IngestOptions


class ImageExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    """FileBasedExampleGen's spec plus the ingest options."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        INGEST_OPTIONS_KEY: component_spec.ExecutionParameter(type=str, optional=True),
    }


class ImageExampleGen(FileBasedExampleGen):
    """Reads a class-per-folder image tree into gzipped TFRecords of tf.train.Examples."""

    SPEC_CLASS = ImageExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
    DRIVER_CLASS = ImageFolderDriver

    def __init__(
        self,
        input_base: str,
        split_folders: dict[str, str] | None = None,
        train_fraction: float = 0.8,
        options: IngestOptions | None = None,
        input_pattern: str = WHOLE_TREE,
    ):
        """split_folders: {"train": folder, "eval": folder} for the user's own split (folders or
        CSV files below input_base), else input_pattern (the whole tree, or one CSV file)
        hashed on the relative path into train/eval by train_fraction."""
        input_config, output_config = split_configs(split_folders, train_fraction, input_pattern)
        spec = ImageExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            custom_config=None,
            range_config=None,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=types.Channel(type=standard_artifacts.Examples),
            **{INGEST_OPTIONS_KEY: (options or IngestOptions()).to_json()},
        )
        # FileBasedExampleGen.__init__ hard-codes its own spec class; build ours and go
        # straight to the Beam component base, keeping FileBasedExampleGen as the type
        # that TFX's runners and compilers recognise.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)


def split_configs(
    split_folders: dict[str, str] | None, train_fraction: float,
    input_pattern: str = WHOLE_TREE,
) -> tuple[example_gen_pb2.Input, example_gen_pb2.Output]:
    """Input/Output configs: the user's split folders, or a deterministic hash split."""
    if split_folders:
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=name, pattern=folder)
                    for name, folder in split_folders.items()]
        )
        return input_config, example_gen_pb2.Output()
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train fraction must be between 0 and 1, got {train_fraction}")
    train_buckets = round(train_fraction * 100)
    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="all", pattern=input_pattern)]
    )
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train_buckets),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=100 - train_buckets),
            ],
            partition_feature_name=features.RELATIVE_PATH,
        )
    )
    return input_config, output_config


def executor_properties(
    input_base: str,
    split_folders: dict[str, str] | None = None,
    train_fraction: float = 0.8,
    options: IngestOptions | None = None,
    input_pattern: str = WHOLE_TREE,
) -> dict[str, object]:
    """The exec_properties the executor receives, for running it directly (tests, benchmarks)."""
    input_config, output_config = split_configs(split_folders, train_fraction, input_pattern)
    return {
        standard_component_specs.INPUT_BASE_KEY: input_base,
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        INGEST_OPTIONS_KEY: (options or IngestOptions()).to_json(),
    }
