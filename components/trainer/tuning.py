"""`visionpipe run --tune`: the TFX Tuner component's tuner_fn, a KerasTuner search.

The search space is small on purpose (every trial trains a CNN):
  learning_rate  {1e-4, 3e-4, 1e-3, 3e-3}
  dropout        {0.2, 0.3, 0.5}
  batch_size     {16, 32, 64}
Random search by default; Bayesian optimisation with `--tune bayesian`. The Trainer gets
the best values through `hyperparameters`, on top of the rest of the config.

KerasTuner 1.4 builds on Keras 3 and rejects tf-keras models in its own Tuner, so
this is a BaseTuner with our own run_trial: it trains with the same input pipeline
and model builders as run_fn and reports the best validation loss to the oracle.
"""

from __future__ import annotations

import functools

import keras_tuner
import tensorflow_transform as tft
from keras_tuner.engine import base_tuner
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from components.common import label_vocabulary
from components.common.image_spec import ImageSpec
from components.image_example_gen.layout import TRAIN, VALIDATION
from components.trainer import input_pipeline
from components.trainer.augmentation import augment_batch
from components.trainer.autograph_rules import leave_tf_keras_unconverted
from components.trainer.class_weights import with_class_weights
from components.trainer.fitting import keras_class_weight, weighted_validation
from components.trainer.hparams import TUNED_BY_SEARCH, TrainingConfig
from components.trainer.models import build_model, resolve_defaults

DEFAULT_TRIALS = 6
TUNING_KEY = "tuning"  # the Tuner's custom_config entry: {"tuner", "trials", "epochs"}


def search_space() -> keras_tuner.HyperParameters:
    """The documented space above."""
    hp = keras_tuner.HyperParameters()
    hp.Choice("learning_rate", [1e-4, 3e-4, 1e-3, 3e-3])
    hp.Choice("dropout", [0.2, 0.3, 0.5])
    hp.Choice("batch_size", [16, 32, 64])
    return hp


class ImageClassifierTuner(base_tuner.BaseTuner):
    """Trains one tf-keras model per trial and reports its best validation loss."""

    def __init__(self, oracle, config: TrainingConfig, image: ImageSpec, num_classes: int,
                 **kwargs):
        super().__init__(oracle=oracle, **kwargs)
        self._config = config
        self._image = image
        self._num_classes = num_classes

    def search(self, *fit_args, splits: dict[str, list[str]], transform_output: str,
               **fit_kwargs):
        """Decodes the splits once (input_pipeline.cached_splits) for all the trials, then
        searches; a scratch folder on disk is removed when the search ends."""
        config = self._config
        with input_pipeline.cached_splits(splits, tft.TFTransformOutput(transform_output),
                                          config.cache_memory, config.cache_dir,
                                          seed=config.seed) as decoded:
            return super().search(*fit_args, train_images=decoded[TRAIN].training,
                                  eval_images=decoded[VALIDATION].evaluation, **fit_kwargs)

    def run_trial(self, trial, train_images, eval_images, steps_per_epoch=None, epochs=1):
        values = trial.hyperparameters.values
        config = self._config.replace(**{k: values[k] for k in TUNED_BY_SEARCH if k in values})
        augment = (functools.partial(augment_batch, config=config.augmentation)
                   if config.augment else None)
        model = build_model(config, self._image, self._num_classes)
        history = model.fit(
            input_pipeline.training_batches(train_images, config.batch_size, augment=augment,
                                            repeat=steps_per_epoch is not None, seed=config.seed),
            validation_data=weighted_validation(
                input_pipeline.evaluation_batches(eval_images, config.batch_size), config),
            epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0,
            class_weight=keras_class_weight(config),
        )
        return {"val_loss": min(history.history["val_loss"])}


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
    """TFX Tuner entry point: the tuner and the arguments of its search."""
    leave_tf_keras_unconverted()
    config = resolve_defaults(TrainingConfig.from_custom_config(fn_args.custom_config))
    tuning = (fn_args.custom_config or {}).get(TUNING_KEY, {})
    class_names = label_vocabulary.read(label_vocabulary.in_examples(fn_args.train_files))
    config, _ = with_class_weights(config, fn_args.train_files, class_names)
    kind = tuning.get("tuner", "random")
    oracle_class = (keras_tuner.oracles.BayesianOptimizationOracle if kind == "bayesian"
                    else keras_tuner.oracles.RandomSearchOracle)
    oracle = oracle_class(
        objective=keras_tuner.Objective("val_loss", "min"),
        max_trials=int(tuning.get("trials", DEFAULT_TRIALS)),
        hyperparameters=search_space(),
        seed=config.seed,
    )
    tuner = ImageClassifierTuner(
        oracle, config, ImageSpec.from_custom_config(fn_args.custom_config), len(class_names),
        directory=fn_args.working_dir,
        project_name="visionpipe_tuning", overwrite=True,
    )
    return TunerFnResult(
        tuner=tuner,
        fit_kwargs={
            "splits": {TRAIN: fn_args.train_files, VALIDATION: fn_args.eval_files},
            "transform_output": fn_args.transform_graph_path,
            "steps_per_epoch": config.steps_per_epoch or fn_args.train_steps or None,
            "epochs": int(tuning.get("epochs", max(1, config.epochs // 3))),
        },
    )
