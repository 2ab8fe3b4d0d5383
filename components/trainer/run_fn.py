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

from components.common import features, label_vocabulary
from components.common.image_spec import ImageSpec
from components.image_example_gen.layout import TRAIN, VALIDATION
from components.insights.figures import INSIGHTS_DIR
from components.insights.training import write_training_pictures
from components.trainer import fitting, input_pipeline, stopping
from components.trainer.augmentation import augment_batch
from components.trainer.autograph_rules import leave_tf_keras_unconverted
from components.trainer.class_weights import with_class_weights
from components.trainer.hparams import TUNED_BY_SEARCH, TrainingConfig
from components.trainer.models import build_model, resolve_defaults
from components.trainer.models.classifier import class_probabilities
from components.trainer.signatures import export_serving_model
from components.trainer.split_metrics import split_metrics, write_metrics

progress = logging.getLogger("visionpipe.progress")

HISTORY_FILE = "history.json"
TRAINING_FILE = "training.json"  # how training ran: the class weights applied
TIMING_FILE = "timing.json"  # {"training_seconds": the wall time of fitting, both phases}


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named in the config (Kubeflow sets it from the GPU count)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def write_json(value, path: str) -> None:
    """Writes value as JSON to path (its folder made first; any filesystem gfile knows)."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(value, f, indent=2)


def training_config(fn_args: FnArgs) -> TrainingConfig:
    """The custom_config, with the Tuner's best hyper-parameters on top, and the trainer
    module's defaults filled in where neither gave a value (once, here)."""
    config = TrainingConfig.from_custom_config(fn_args.custom_config)
    hyperparameters = getattr(fn_args, "hyperparameters", None)
    if hyperparameters:
        values = hyperparameters.get("values", hyperparameters)
        tuned = {k: v for k, v in values.items() if k in TUNED_BY_SEARCH}
        progress.info("using the tuned hyper-parameters %s", tuned)
        config = config.replace(**tuned)
    return resolve_defaults(config)


def run_fn(fn_args: FnArgs) -> None:
    """Trains the model named in custom_config and exports it to fn_args.serving_model_dir."""
    leave_tf_keras_unconverted()
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

    config, weighting = with_class_weights(config, fn_args.train_files, class_names)
    training_facts = {"class_weight": weighting}
    write_json(training_facts, os.path.join(fn_args.model_run_dir, TRAINING_FILE))
    splits = {TRAIN: fn_args.train_files, VALIDATION: fn_args.eval_files}
    with input_pipeline.cached_splits(splits, tf_transform_output, config.cache_memory,
                                      config.cache_dir, seed=config.seed) as decoded, \
            fitting.precision_policy(config.mixed_precision):
        model, stops, kept = _train_and_describe(config, image, class_names, decoded, fn_args)
    write_json({**training_facts, **stop_facts(stops, kept)},
               os.path.join(fn_args.model_run_dir, TRAINING_FILE))
    export_serving_model(model, tf_transform_output, class_names, fn_args.serving_model_dir)


def stop_facts(stops: list[stopping.Stop], kept: str) -> dict:
    """training.json's account of why training stopped: the kept phase's stop
    (`stopped_by`, `best_epoch`, `epochs_run`, `stopped`: the line the run printed) and
    every phase's."""
    main = stopping.main_stop(stops, kept)
    if main is None:
        return {}
    return {"stopped_by": main.stopped_by, "best_epoch": main.best_epoch,
            "epochs_run": stops[-1].epochs_run, "stopped": main.line(),
            "phases": [stop.to_json() for stop in stops]}


def _train_and_describe(config: TrainingConfig, image: ImageSpec, class_names: list[str],
                        decoded: dict[str, input_pipeline.DecodedImages],
                        fn_args: FnArgs) -> tuple[keras.Model, list[stopping.Stop], str]:
    """Trains (then fine-tunes, when asked) on the decoded splits; writes the history, the
    per-split metrics and the insight pictures; returns the trained model, how each phase
    stopped and the phase kept."""
    train_images, eval_images = decoded[TRAIN], decoded[VALIDATION]
    steps_per_epoch = config.steps_per_epoch or fn_args.train_steps or None
    augment = None
    if config.augment:
        augment = functools.partial(augment_batch, config=config.augmentation)
    train = fitting.Batches(input_pipeline.training_batches(
        train_images.training, config.batch_size, augment=augment,
        repeat=steps_per_epoch is not None, seed=config.seed,
    ), input_pipeline.evaluation_batches(train_images.evaluation, config.batch_size), train_images)
    eval_batches = input_pipeline.evaluation_batches(eval_images.evaluation, config.batch_size)
    evaluation = fitting.Batches(eval_batches, eval_batches, eval_images)

    strategy = distribution_strategy(config.distribution)
    with strategy.scope():
        model = build_model(config, image, len(class_names))
    progress.info(
        "training %s (recipe %s: %s at %g, %s schedule, patience %d) on %d classes for up to "
        "%d epochs%s", config.model, config.recipe, config.optimizer, config.learning_rate,
        config.schedule, config.early_stopping_patience, len(class_names), config.epochs,
        " on augmented images" if augment else "",
    )
    started = time.perf_counter()
    # In the scope: the models phase one and two split off (and their optimizers) must
    # live where the model's variables do (a MirroredStrategy's mirrored variables).
    with strategy.scope():
        history, stops, kept = fitting.train(model, config, len(class_names), train,
                                             evaluation, fn_args.model_run_dir, steps_per_epoch)
    seconds = time.perf_counter() - started
    progress.info("trained in %.0f s", seconds)
    history = {k: [float(v) for v in values] for k, values in history.items()}
    write_json(history, os.path.join(fn_args.model_run_dir, HISTORY_FILE))
    write_json({"training_seconds": seconds}, os.path.join(fn_args.model_run_dir, TIMING_FILE))

    predict = fitting.inference(model)  # traced once: it runs over every split

    def probabilities_of(images):
        return class_probabilities(predict(images), len(class_names))

    metrics = {split: split_metrics(probabilities_of, images.evaluation, class_names)
               for split, images in ((TRAIN, train_images), (VALIDATION, eval_images))}
    write_metrics(metrics, fn_args.model_run_dir)
    progress.info("accuracy: train %.4f, validation %.4f", metrics[TRAIN][features.ACCURACY],
                  metrics[VALIDATION][features.ACCURACY])
    best = stopping.main_stop(stops, kept)
    write_training_pictures(model, history, eval_images.evaluation, class_names,
                            os.path.join(fn_args.model_run_dir, INSIGHTS_DIR),
                            best_epoch=best.best_epoch if best else None)
    progress.info("wrote the training curves and feature maps to %s",
                  os.path.join(fn_args.model_run_dir, INSIGHTS_DIR))
    return model, stops, kept
