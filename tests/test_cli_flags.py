"""Every option is one field with its flag: the parser and the config agree, one vocabulary."""

import dataclasses

import pytest

from components.common.image_spec import ImageSpec
from components.common.settings import flag_of
from components.image_example_gen.options import IngestOptions
from components.trainer.hparams import Augmentation, TrainingConfig
from pipeline.cli import build_parser
from pipeline.cli.flags import settings_from
from pipeline.config import PipelineConfig
from pipeline.runners.kubeflow_options import KubeflowOptions


def _config(*argv: str) -> PipelineConfig:
    return settings_from(build_parser().parse_args(["run", "--data", "d", *argv]), PipelineConfig)


def test_defaults_from_the_command_line_are_the_dataclass_defaults():
    assert _config() == PipelineConfig(data="d")


def test_flags_land_in_their_nested_settings():
    config = _config("--epochs", "7", "--patience", "9", "--model", "augmented", "--no-augment",
                     "--zoom", "0.5", "--no-horizontal-flip", "--vertical-flip", "--max-pixels",
                     "99", "--data-format", "csv", "--image-shape", "10x12x3", "--beam-arg=--a",
                     "--beam-arg=--b", "--no-baseline", "--tune", "--fine-tune-layers", "0.5")
    assert config.training == TrainingConfig(
        model="augmented", epochs=7, early_stopping_patience=9, augment=False,
        augmentation=Augmentation(zoom=0.5, horizontal_flip=False, vertical_flip=True),
        fine_tune_layers=0.5)
    assert config.ingest == IngestOptions(max_pixels=99, data_format="csv",
                                          image_shape=(10, 12, 3))
    assert config.extra_beam_args == ("--a", "--b")
    assert config.pipeline_beam_args[-2:] == ("--a", "--b")
    assert config.compare_to_baseline is False and config.tune == "random"


def test_the_image_spec_comes_from_the_flags_or_the_data_source():
    assert _config().image == ImageSpec(150, 150, 3)
    assert _config("--data-format", "csv").image == ImageSpec(28, 28, 1)  # the rows' shape
    assert _config("--data-format", "csv", "--image-shape", "20x30x3").image == ImageSpec(30, 30, 3)
    assert _config("--image-size", "64", "--channels", "1").image == ImageSpec(64, 64, 1)
    with pytest.raises(ValueError, match="--image-size"):
        _config("--image-size", "0")


def test_every_flagged_field_has_a_flag_on_run_and_no_flag_is_declared_twice():
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]  # noqa: SLF001 - argparse's own
    flags = [option for action in run._actions for option in action.option_strings]  # noqa: SLF001
    assert len(flags) == len(set(flags))

    def declared(cls):
        for field in dataclasses.fields(cls):
            default = field.default_factory() if callable(field.default_factory) else field.default
            if flag_of(field):
                yield flag_of(field).name
            elif dataclasses.is_dataclass(default):
                yield from declared(type(default))

    assert set(declared(PipelineConfig)) <= set(flags)
    assert not set(declared(KubeflowOptions)) & set(flags)  # compile-only


def test_one_vocabulary_across_commands_with_old_spellings_as_hidden_aliases():
    parser = build_parser()
    for argv in (["serve", "--model-base-path", "b", "--name", "m"],
                 ["serve", "--model-base-path", "b", "--model-name", "m"],
                 ["predict", "x.jpg", "--name", "m"], ["predict", "x.jpg", "--model", "m"],
                 ["serving-config", "--model-base-path", "b", "--output", "o", "--name", "m"]):
        assert parser.parse_args(argv).name == "m", argv
    compiled = parser.parse_args(["compile", "--data", "d", "--image", "i", "--pipeline-root",
                                  "gs://r", "--package", "p.yaml", "--model", "transfer",
                                  "--node-selector", "a=b", "--toleration", "k=v:NoSchedule"])
    assert compiled.package == "p.yaml" and compiled.output is None
    options = settings_from(compiled, KubeflowOptions)
    assert options.node_selector == (("a", "b"),)
    assert options.tolerations == ({"key": "k", "operator": "Equal", "value": "v",
                                    "effect": "NoSchedule"},)
    assert settings_from(compiled, PipelineConfig).training.model == "transfer"


def test_a_model_name_is_required_where_there_is_no_default(capsys):
    from pipeline.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--model-base-path", "b"])
    assert "required: --name" in capsys.readouterr().err


def test_an_old_file_valued_output_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["schema", "export", "runs/x", "--output", "s.pbtxt"])
    assert "--schema FILE" in capsys.readouterr().err
