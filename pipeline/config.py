"""The one configuration of a run: a dataclass built from the CLI, passed down, never re-read.

Every option is a field declared once, with its flag (components/common/settings.py): the
pipeline's own here, the ExampleGen's in IngestOptions, the Trainer's in TrainingConfig.
"""

from __future__ import annotations

import dataclasses
import os

from components.common import features
from components.common.drift import ON_DRIFT, STOP
from components.common.image_spec import DEFAULT_IMAGE, ImageSpec
from components.common.paths import join
from components.common.settings import setting
from components.evaluator.gates import DEFAULT_MAX_CLASS_DROP, DEFAULT_MIN_CLASS_RECALL
from components.image_example_gen.options import DATA, IngestOptions
from components.image_example_gen.sources import source
from components.trainer.hparams import TRAINING, TUNERS, TrainingConfig

# Beam's DirectRunner in 2.74 first tries to download its Prism runner; FnApiRunner never does.
# Without a dependency flag, TFX builds an sdist of itself before every Beam component
# (about 2 s each) to ship to remote workers; local workers share this environment and
# ignore the container image, which is named here only to skip that build.
DEFAULT_BEAM_ARGS = ("--runner=FnApiRunner", "--sdk_container_image=visionpipe-local")
GATES = "evaluation and pushing"
RUN_COMMAND = "run"


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs: data, names and paths, image size, training, gates."""

    data: str = setting(flag="--data", group=DATA, help=(
        "folder with one sub-folder of images per class (optionally inside split folders: "
        "train/ with val/ and/or test/, under their usual spellings), or with --data-format csv "
        "a CSV of pixel rows (.csv or .csv.gz)"))
    validation_data: str | None = setting(
        None, "--validation-data", "CSV only: a separate CSV for the validation split",
        group=DATA)
    test_data: str | None = setting(
        None, "--test-data", "CSV only: a separate CSV for the test split (e.g. Kaggle's test "
        "CSV); without --validation-data, validation is hash-split out of --data",
        group=DATA, hidden_aliases=("--eval-data",))
    name: str = setting("visionpipe", "--name",
                        "the model's name: names the run folder and the TF Serving model")
    output: str = setting("runs", "--output", "output folder: <output>/<name>/ for the run, "
                          "<output>/serving/<name>/<version>/ for pushed models",
                          commands=(RUN_COMMAND,))
    ingest: IngestOptions = dataclasses.field(default_factory=IngestOptions)
    image_size: int | None = setting(
        None, "--image-size", f"images are resized to SIZE x SIZE (default "
        f"{DEFAULT_IMAGE.height}; CSV: the rows' own size)", group=DATA, type=int, metavar="SIZE")
    channels: int | None = setting(
        None, "--channels", f"3 for RGB, 1 for grey (default {DEFAULT_IMAGE.channels}; CSV: "
        "the rows' channels)", group=DATA, type=int, choices=(1, 3))
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    tune: str | None = setting(
        None, "--tune", "search learning rate, dropout and batch size with the TFX Tuner first "
        "(random search, or bayesian)", group=TRAINING, nargs="?", const="random", choices=TUNERS)
    tune_trials: int = setting(6, "--tune-trials", "trials of the search", group=TRAINING, type=int)
    min_accuracy: float = setting(
        0.6, "--min-accuracy", "the Evaluator blesses (and the Pusher pushes) only at or above this",
        group=GATES, type=float)
    min_class_recall: float = setting(
        DEFAULT_MIN_CLASS_RECALL, "--min-class-recall", "every class's recall on the test split "
        "must reach this (a model that never predicts a class scores 0 there; 0: no per-class "
        "bound)", group=GATES, type=float)
    max_class_drop: float = setting(
        DEFAULT_MAX_CLASS_DROP, "--max-class-drop", "no class's recall may fall more than this "
        "below the served model's, on the same test split (1: any fall)", group=GATES,
        type=float)
    compare_to_baseline: bool = setting(
        True, "--no-baseline", "bless on the thresholds alone, without comparing to the model "
        "being served",
        group=GATES, action="store_false")
    schema: str | None = setting(
        None, "--schema", "a curated schema .pbtxt to validate against (default: infer one)",
        group=GATES)
    on_drift: str = setting(
        STOP, "--on-drift", "when the training images drift from the data accepted last "
        "(brightness, contrast, sharpness, aspect, size): stop before training, or warn and "
        "train on them", group=GATES, choices=ON_DRIFT)
    label_issues: bool = setting(
        True, "--no-label-issues", "skip the data review's search for likely label errors, "
        "outliers and near-copies in the pretrained base's features (--base, --weights)",
        group=DATA, action="store_false", commands=(RUN_COMMAND, "compile"))
    extra_beam_args: tuple[str, ...] = setting(
        (), "--beam-arg", "extra Beam pipeline argument, repeatable, e.g. "
        "--beam-arg=--direct_num_workers=2", action="append", metavar="ARG")
    enable_cache: bool = setting(True, "--no-cache", "re-run every component even when its "
                                 "inputs did not change", action="store_false")
    beam_args: tuple[str, ...] = DEFAULT_BEAM_ARGS  # the runner's; Kubeflow compiles its own
    artifacts_root: str | None = None  # the pipeline root; default <output>/<name>/artifacts

    def __post_init__(self) -> None:
        if not features.MODEL_NAME.match(self.name):
            raise ValueError(
                f"--name {self.name!r}: use letters, digits, '.', '_' or '-' (it names a folder "
                "and a TF Serving model)"
            )
        for flag, value in (("--min-accuracy", self.min_accuracy),
                            ("--min-class-recall", self.min_class_recall),
                            ("--max-class-drop", self.max_class_drop)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{flag} must be between 0 and 1, got {value}")
        self.image  # noqa: B018 - validates --image-size and --channels now, not mid-run

    @property
    def image(self) -> ImageSpec:
        """The model's input: --image-size/--channels, else the data source's default."""
        height, width, channels = source(self.ingest.data_format).default_shape(
            self.ingest.image_shape)
        if self.image_size is not None:
            height = width = self.image_size
        return ImageSpec(height, width, self.channels or channels)

    @property
    def pipeline_beam_args(self) -> tuple[str, ...]:
        return (*self.beam_args, *self.extra_beam_args)

    # Where things go: <output>/<name>/ for the run, <output>/serving/<name>/ for TF Serving.
    @property
    def run_dir(self) -> str:
        return join(self.output, self.name)

    @property
    def pipeline_root(self) -> str:
        return self.artifacts_root or join(self.run_dir, "artifacts")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.run_dir, "metadata.sqlite")

    @property
    def accepted_statistics_dir(self) -> str:
        """Statistics of the data each run accepted, the drift check's reference."""
        return join(self.output, "data-statistics", self.name)

    @property
    def serving_model_dir(self) -> str:
        """The TF Serving model base path: versions are pushed below it."""
        return join(self.output, "serving", self.name)

    def ingest_options(self, class_names: list[str]) -> IngestOptions:
        """The ExampleGen's options, with the class names fixed for the run and the model's
        input side (what counts as a tiny image)."""
        return dataclasses.replace(self.ingest, class_names=tuple(class_names),
                                   model_side=min(self.image.height, self.image.width))
