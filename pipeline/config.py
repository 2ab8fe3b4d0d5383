"""The one configuration of a run: a dataclass built from the CLI, passed down, never re-read.

Every option is a field declared once, with its flag (components/settings.py): the
pipeline's own here, the ExampleGen's in IngestOptions, the Trainer's in TrainingConfig.
"""

from __future__ import annotations

import dataclasses
import os

from components import features
from components.image_example_gen.options import DATA, IngestOptions
from components.image_example_gen.sources import source
from components.image_spec import ImageSpec
from components.settings import setting
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
        None, "--image-size", "images are resized to SIZE x SIZE (default 150; CSV: the rows' "
        "own size)", group=DATA, type=int, metavar="SIZE")
    channels: int | None = setting(None, "--channels", "3 for RGB, 1 for grey (default 3; CSV: "
                                   "the rows' channels)", group=DATA, type=int, choices=(1, 3))
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    tune: str | None = setting(
        None, "--tune", "search learning rate, dropout and batch size with the TFX Tuner first "
        "(random search, or bayesian)", group=TRAINING, nargs="?", const="random", choices=TUNERS)
    tune_trials: int = setting(6, "--tune-trials", "trials of the search", group=TRAINING, type=int)
    min_accuracy: float = setting(
        0.6, "--min-accuracy", "the Evaluator blesses (and the Pusher pushes) only at or above this",
        group=GATES, type=float)
    compare_to_baseline: bool = setting(
        True, "--no-baseline", "bless on --min-accuracy alone, without comparing to the model "
        "being served",
        group=GATES, action="store_false")
    schema: str | None = setting(
        None, "--schema", "a curated schema .pbtxt to validate against (default: infer one)",
        group=GATES)
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
        if not 0.0 <= self.min_accuracy <= 1.0:
            raise ValueError(f"--min-accuracy must be between 0 and 1, got {self.min_accuracy}")
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
        return _join(self.output, self.name)

    @property
    def pipeline_root(self) -> str:
        return self.artifacts_root or _join(self.run_dir, "artifacts")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.run_dir, "metadata.sqlite")

    @property
    def serving_model_dir(self) -> str:
        """The TF Serving model base path: versions are pushed below it."""
        return _join(self.output, "serving", self.name)

    def ingest_options(self, class_names: list[str]) -> IngestOptions:
        """The ExampleGen's options, with the class names fixed for the run."""
        return dataclasses.replace(self.ingest, class_names=tuple(class_names))


def _join(base: str, *parts: str) -> str:
    """os.path.join for local paths, '/'-joins for gs:// and s3:// URLs."""
    return "/".join([base.rstrip("/"), *parts]) if "://" in base else os.path.join(base, *parts)
