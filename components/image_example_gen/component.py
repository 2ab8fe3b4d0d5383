"""ImageExampleGen: TFX's FileBasedExampleGen with the image executor, driver and options."""

from __future__ import annotations

from tfx import types
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import component_spec, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen.driver import ImageFolderDriver
from components.image_example_gen.executor import INGEST_OPTIONS_KEY, Executor
from components.image_example_gen.layout import InputSplit
from components.image_example_gen.options import IngestOptions

DATA_FINGERPRINT_KEY = "data_fingerprint"


class ImageExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    """FileBasedExampleGen's spec plus the ingest options, and (on Kubeflow) the data's
    fingerprint, a parameter only so that the task's cache key changes with the data."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        INGEST_OPTIONS_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        DATA_FINGERPRINT_KEY: component_spec.ExecutionParameter(type=str, optional=True),
    }


class ImageExampleGen(FileBasedExampleGen):
    """Reads the data's inputs into gzipped TFRecords of tf.train.Examples, one split per role."""

    SPEC_CLASS = ImageExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
    DRIVER_CLASS = ImageFolderDriver

    def __init__(self, input_base: str, inputs: tuple[InputSplit, ...],
                 options: IngestOptions | None = None, data_fingerprint=None):
        """inputs: each input's pattern below input_base and the role(s) it feeds (the data's
        DataLayout.inputs); options: how to read them (their roles are set from inputs);
        data_fingerprint: DataFingerprint's output, on Kubeflow (see components/kfp/data_fingerprint.py)."""
        spec = ImageExampleGenSpec(
            input_base=input_base,
            input_config=input_config(inputs),
            output_config=example_gen_pb2.Output(),  # the splits are the roles, see executor.py
            custom_config=None,
            range_config=None,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=types.Channel(type=standard_artifacts.Examples),
            **{INGEST_OPTIONS_KEY: (options or IngestOptions()).with_inputs(inputs).to_json(),
               DATA_FINGERPRINT_KEY: data_fingerprint},
        )
        # FileBasedExampleGen.__init__ hard-codes its own spec class; build ours and go
        # straight to the Beam component base, keeping FileBasedExampleGen as the type
        # that TFX's runners and compilers recognise.
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)


def input_config(inputs: tuple[InputSplit, ...]) -> example_gen_pb2.Input:
    """TFX's input config: one split per input, named and patterned as the layout says (the
    driver resolves spans and fingerprints the data from it)."""
    return example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name=split.name,
                                                                     pattern=split.pattern)
                                         for split in inputs])


def executor_properties(input_base: str, inputs: tuple[InputSplit, ...],
                        options: IngestOptions | None = None) -> dict[str, object]:
    """The exec_properties the executor receives, for running it directly (tests, benchmarks)."""
    return {
        standard_component_specs.INPUT_BASE_KEY: input_base,
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config(inputs)),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
            example_gen_pb2.Output()),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        INGEST_OPTIONS_KEY: (options or IngestOptions()).with_inputs(inputs).to_json(),
    }
