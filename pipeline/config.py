"""The one configuration of a run: a dataclass built from the CLI, passed down, never re-read."""

from __future__ import annotations

import dataclasses
import os
import re

from components.image_example_gen.options import (
    DATA_FORMATS,
    DEFAULT_MAX_PIXELS,
    FOLDER,
    IngestOptions,
)
from components.trainer.hparams import TUNERS, Augmentation, TrainingConfig

# Beam's DirectRunner in 2.74 first tries to download its Prism runner; FnApiRunner never does.
# Without a dependency flag, TFX builds an sdist of itself before every Beam component
# (about 2 s each) to ship to remote workers; local workers share this environment and
# ignore the container image, which is named here only to skip that build.
DEFAULT_BEAM_ARGS = ("--runner=FnApiRunner", "--sdk_container_image=visionpipe-local")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs: data, names and paths, model and hyper-parameters, gates."""

    data: str
    name: str = "visionpipe"
    output: str = "runs"
    data_format: str = FOLDER
    eval_data: str | None = None  # CSV only: a separate file for the eval split
    image_shape: tuple[int, int, int] = (28, 28, 1)  # CSV only: the pixel layout of a row
    model: str = "scratch"
    image_size: int = 150
    channels: int = 3
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float | None = None  # None: the model's course value
    optimizer: str = "rmsprop"
    early_stopping_patience: int = 3
    dropout: float | None = None
    augment: bool | None = None  # None: the model's default
    augmentation: Augmentation = Augmentation()
    base: str = "inception_v3"
    weights: str = "imagenet"
    alpha: float = 1.0
    cut_layer: str | None = None
    fine_tune_layers: float = 0
    fine_tune_epochs: int = 0
    fine_tune_learning_rate: float = 1e-5
    tune: str | None = None  # random | bayesian: run the Tuner before the Trainer
    tune_trials: int = 6
    steps_per_epoch: int | None = None
    train_fraction: float = 0.8
    min_accuracy: float = 0.6
    compare_to_baseline: bool = True  # bless only if no worse than the latest blessed model
    schema: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    beam_args: tuple[str, ...] = DEFAULT_BEAM_ARGS
    enable_cache: bool = True
    distribution: str = "default"  # Trainer: default | mirrored (GPUs) | multi_worker_mirrored
    artifacts_root: str | None = None  # the pipeline root; default <output>/<name>/artifacts

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(
                f"--name {self.name!r}: use letters, digits, '.', '_' or '-' (it names a folder "
                "and a TF Serving model)"
            )
        if not 0.0 <= self.min_accuracy <= 1.0:
            raise ValueError(f"--min-accuracy must be between 0 and 1, got {self.min_accuracy}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"--split-ratio must be between 0 and 1, got {self.train_fraction}")
        if self.data_format not in DATA_FORMATS:
            raise ValueError(f"--data-format must be one of {DATA_FORMATS}, got {self.data_format}")
        if self.eval_data and self.data_format != "csv":
            raise ValueError("--eval-data is for CSV data; image folders split with train/ and eval/")
        if self.tune is not None and self.tune not in TUNERS:
            raise ValueError(f"--tune must be one of {TUNERS}, got {self.tune}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.channels not in (1, 3):
            raise ValueError(f"--channels must be 1 or 3, got {self.channels}")
        for name in ("image_size", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")

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

    def training(self) -> TrainingConfig:
        """The Trainer's share of the configuration."""
        return TrainingConfig(
            model=self.model,
            image_height=self.image_size,
            image_width=self.image_size,
            image_channels=self.channels,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            optimizer=self.optimizer,
            early_stopping_patience=self.early_stopping_patience,
            dropout=self.dropout,
            augment=self.augment,
            augmentation=self.augmentation,
            steps_per_epoch=self.steps_per_epoch,
            base=self.base,
            weights=self.weights,
            alpha=self.alpha,
            cut_layer=self.cut_layer,
            fine_tune_layers=self.fine_tune_layers,
            fine_tune_epochs=self.fine_tune_epochs,
            fine_tune_learning_rate=self.fine_tune_learning_rate,
            distribution=self.distribution,
        )

    def ingest(self, class_names: list[str] | None = None) -> IngestOptions:
        """The ExampleGen's share of the configuration."""
        return IngestOptions(class_names=tuple(class_names or ()), max_pixels=self.max_pixels,
                             data_format=self.data_format, image_shape=self.image_shape)


def _join(base: str, *parts: str) -> str:
    """os.path.join for local paths, '/'-joins for gs:// and s3:// URLs."""
    return "/".join([base.rstrip("/"), *parts]) if "://" in base else os.path.join(base, *parts)
