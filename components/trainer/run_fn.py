"""The TFX Trainer's entry point: build the chosen model, train it, export it for serving."""

from __future__ import annotations

import functools
import json
import logging
import os
import time

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs

from components import features, label_vocabulary
from components.image_example_gen.layout import TRAIN, VALIDATION
from components.image_spec import ImageSpec
from components.trainer import input_pipeline
from components.trainer.augmentation import augment_batch
from components.trainer.hparams import TUNABLE, TrainingConfig
from components.trainer.insights import INSIGHTS_DIR, write_insights
from components.trainer.models import build_model, resolve_defaults, trainer_module
from components.trainer.models.classifier import class_probabilities
from components.trainer.signatures import export_serving_model
from components.trainer.split_metrics import split_metrics, write_metrics

progress = logging.getLogger("visionpipe.progress")

HISTORY_FILE = "history.json"


class EpochLogger(keras.callbacks.Callback):
    """One progress line per epoch: the losses and accuracies, training and validation."""

    def __init__(self, epochs: int):
        super().__init__()
        self._epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        shown = " ".join(f"{k}={v:.4f}" for k, v in sorted((logs or {}).items()))
        progress.info("epoch %d/%d %s", epoch + 1, self._epochs, shown)


def _callbacks(config: TrainingConfig, log_dir: str, epochs: int) -> list[keras.callbacks.Callback]:
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience,
            restore_best_weights=True,
        ),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
        EpochLogger(epochs),
    ]


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named in the config (Kubeflow sets it from the GPU count)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def training_config(fn_args: FnArgs) -> TrainingConfig:
    """The custom_config, with the Tuner's best hyper-parameters on top, and the trainer
    module's defaults filled in where neither gave a value (once, here)."""
    config = TrainingConfig.from_custom_config(fn_args.custom_config)
    hyperparameters = getattr(fn_args, "hyperparameters", None)
    if hyperparameters:
        values = hyperparameters.get("values", hyperparameters)
        tuned = {k: v for k, v in values.items() if k in TUNABLE}
        progress.info("using the tuned hyper-parameters %s", tuned)
        config = config.replace(**tuned)
    return resolve_defaults(config)


def run_fn(fn_args: FnArgs) -> None:
    """Trains the model named in custom_config and exports it to fn_args.serving_model_dir."""
    config = training_config(fn_args)
    image = ImageSpec.from_custom_config(fn_args.custom_config)
    keras.utils.set_random_seed(config.seed)
    class_names = label_vocabulary.read(label_vocabulary.in_examples(fn_args.train_files))
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    image_spec = tf_transform_output.raw_feature_spec()[features.IMAGE_BYTES]
    if not isinstance(image_spec, tf.io.FixedLenFeature):
        raise ValueError(
            f"the schema must give '{features.IMAGE_BYTES}' a fixed shape of [1] "
            f"(got {image_spec}); use SchemaGen(infer_feature_shape=True) or a curated schema"
        )

    started = time.perf_counter()
    train_images = input_pipeline.decoded_images(fn_args.train_files, tf_transform_output)
    eval_images = input_pipeline.decoded_images(fn_args.eval_files, tf_transform_output)
    progress.info(
        "decoded %d training and %d evaluation images once, cached in memory (%.1f s)",
        input_pipeline.image_count(train_images), input_pipeline.image_count(eval_images),
        time.perf_counter() - started,
    )
    steps_per_epoch = config.steps_per_epoch or fn_args.train_steps or None
    augment = None
    if config.augment:
        augment = functools.partial(augment_batch, config=config.augmentation)
    train_batches = input_pipeline.training_batches(
        train_images, config.batch_size, augment=augment, repeat=steps_per_epoch is not None,
        seed=config.seed,
    )
    eval_batches = input_pipeline.evaluation_batches(eval_images, config.batch_size)

    with distribution_strategy(config.distribution).scope():
        model = build_model(config, image, len(class_names))
    progress.info(
        "training %s on %d classes for up to %d epochs%s", config.model, len(class_names),
        config.epochs, " on augmented images" if augment else "",
    )
    history = model.fit(
        train_batches, validation_data=eval_batches, epochs=config.epochs,
        steps_per_epoch=steps_per_epoch, callbacks=_callbacks(config, fn_args.model_run_dir,
                                                              config.epochs),
        verbose=0,
    ).history
    module = trainer_module(config.model)
    if module.fine_tune is not None and config.fine_tune_epochs > 0 and config.fine_tune_layers:
        model = module.fine_tune(model, config, len(class_names))
        done = len(history.get("loss", []))
        total = done + config.fine_tune_epochs
        progress.info("fine-tuning the top of the base for %d epochs at learning rate %g",
                      config.fine_tune_epochs, config.fine_tune_learning_rate)
        fine = model.fit(
            train_batches, validation_data=eval_batches, epochs=total, initial_epoch=done,
            steps_per_epoch=steps_per_epoch,
            callbacks=_callbacks(config, fn_args.model_run_dir, total), verbose=0,
        ).history
        history = {k: list(history.get(k, [])) + list(fine.get(k, [])) for k in fine}
    history = {k: [float(v) for v in values] for k, values in history.items()}
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_FILE), "w") as f:
        json.dump(history, f)

    def probabilities_of(images):
        return class_probabilities(model(images, training=False), len(class_names))

    metrics = {split: split_metrics(probabilities_of, images, class_names)
               for split, images in ((TRAIN, train_images), (VALIDATION, eval_images))}
    write_metrics(metrics, fn_args.model_run_dir)
    progress.info("accuracy: train %.4f, validation %.4f", metrics[TRAIN][features.ACCURACY],
                  metrics[VALIDATION][features.ACCURACY])
    write_insights(model, history, eval_images, class_names, probabilities_of,
                   os.path.join(fn_args.model_run_dir, INSIGHTS_DIR))
    progress.info("wrote training curves, feature maps, confusion matrix and mistakes to %s",
                  os.path.join(fn_args.model_run_dir, INSIGHTS_DIR))
    export_serving_model(model, tf_transform_output, class_names, fn_args.serving_model_dir)
