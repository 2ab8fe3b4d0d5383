"""How a model is trained: one phase end to end, or transfer's two phases (recipes.py).

Phase one trains the new head. With a frozen base and no augmentation in that phase it
runs on the base's features computed once per run (the course's "bottleneck
features": one pass of the base over the images instead of one per epoch), when
they fit in the memory budget; otherwise end to end with the base frozen. Phase two
unfreezes the top of the base (batch norm stays in inference mode) at a small rate,
and the better phase by validation accuracy is kept. Without augmentation the layers
below the unfrozen top see the same images every epoch, so phase two trains on their
activations, computed once (the same pass gives phase one's features through the
still-frozen top); with augmentation, or when those activations exceed the budget, it
runs end to end on the images.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.trainer import decode_cache, input_pipeline, schedules, stopping
from components.trainer.hparams import TrainingConfig
from components.trainer.models import TrainerModule, trainer_module
from components.trainer.models.classifier import compile_classifier
from components.trainer.recipes import recipe

progress = logging.getLogger("visionpipe.progress")

MIXED_POLICY = "mixed_float16"


class EpochLogger(keras.callbacks.Callback):
    """One progress line per epoch: the losses and accuracies, training and validation."""

    def __init__(self, epochs: int, phase: str = ""):
        super().__init__()
        self._epochs = epochs
        self._phase = phase

    def on_epoch_end(self, epoch, logs=None):
        shown = " ".join(f"{k}={v:.4g}" for k, v in sorted((logs or {}).items()))
        progress.info("%sepoch %d/%d %s", self._phase, epoch + 1, self._epochs, shown)


# The flag that sets each phase's epoch cap (named when a run ends at the cap).
CAP_FLAGS = {"": "--epochs", "head ": "--head-epochs", "fine-tune ": "--fine-tune-epochs"}


def callbacks(config: TrainingConfig, log_dir: str, epochs: int, stops: list[stopping.Stop],
              phase: str = "", warmup: bool = True,
              initial_epoch: int = 0) -> list[keras.callbacks.Callback]:
    """Early stopping (best weights restored; better means lower by more than the recipe's
    min_delta) and why the phase stopped (into stops), the recipe's warm-up (when warmup)
    and the config's schedule over the phase's epochs (initial_epoch to epochs),
    TensorBoard, progress lines."""
    chosen = recipe(config.recipe)
    early = keras.callbacks.EarlyStopping(monitor="val_loss",
                                          patience=config.early_stopping_patience,
                                          min_delta=chosen.min_delta, restore_best_weights=True)
    found = [early, stopping.StopRecorder(early, stops, phase, CAP_FLAGS.get(phase, "--epochs"))]
    found += schedules.schedule_callbacks(config.schedule, chosen.warmup_epochs if warmup else 0,
                                          initial_epoch, epochs)
    return found + [keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
                    EpochLogger(epochs, phase)]


def keras_class_weight(config: TrainingConfig) -> dict[int, float] | None:
    """The resolved class weights as Keras's fit takes them ({class id: weight}), or None."""
    return dict(enumerate(config.class_weights)) if config.class_weights else None


def weighted_validation(batches: tf.data.Dataset, config: TrainingConfig) -> tf.data.Dataset:
    """Validation batches of (images, labels), with each example weighted by its class when
    class weights apply: the validation loss that early stopping and the phases' choice read
    is then the loss training minimises, not one that favours the large classes again."""
    if not config.class_weights:
        return batches
    weights = tf.constant(config.class_weights, tf.float32)
    return batches.map(lambda images, labels: (images, labels, tf.gather(
        weights, tf.reshape(tf.cast(labels, tf.int32), [-1]))))


def uses_mixed_precision(setting: str) -> bool:
    """--mixed-precision: on, off, or auto (on exactly when TensorFlow sees a GPU)."""
    return setting == "on" or (setting == "auto" and bool(tf.config.list_physical_devices("GPU")))


@contextlib.contextmanager
def precision_policy(setting: str) -> Iterator[bool]:
    """Builds and trains inside under float16 compute (float32 variables and outputs) when
    the setting asks; the process's previous global policy is restored afterwards."""
    previous = keras.mixed_precision.global_policy()
    mixed = uses_mixed_precision(setting)
    if mixed:
        keras.mixed_precision.set_global_policy(MIXED_POLICY)
        progress.info("mixed precision: float16 compute, float32 variables and outputs")
    try:
        yield mixed
    finally:
        keras.mixed_precision.set_global_policy(previous)


@dataclasses.dataclass
class Batches:
    """A split's images as the model sees them, and their decoded form (for features)."""

    training: tf.data.Dataset  # shuffled, augmented when asked
    evaluation: tf.data.Dataset  # fixed order, never augmented
    decoded: input_pipeline.DecodedImages


History = dict[str, list[float]]


def _merge(first: History, second: History) -> History:
    return {k: list(first.get(k, [])) + list(second.get(k, [])) for k in set(first) | set(second)}


def inference(model: keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """model(batch, training=False) as one traced graph for every batch size.

    Worth one trace when the model runs over a whole split: eager batch calls took about
    twice as long on 2 cores.
    """
    signature = tf.TensorSpec([None, *model.input.shape[1:]], model.input.dtype)
    return tf.function(lambda batch: model(batch, training=False), input_signature=[signature])


def _features(call: Callable[[tf.Tensor], tf.Tensor], images: tf.data.Dataset,
              batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of decoded images, in their fixed order, one pass of call (the
    base's front)."""
    rows, labels = [], []
    for batch, label in input_pipeline.evaluation_batches(images, batch_size):
        rows.append(call(batch).numpy().astype(np.float32))
        labels.append(label.numpy())
    return np.concatenate(rows), np.concatenate(labels)


def _feature_bytes(features: keras.Model, count: int) -> int:
    return int(np.prod(features.output.shape[1:])) * 4 * count


def _budget_left(setting: str, *decoded: input_pipeline.DecodedImages) -> tuple[int, str]:
    """The memory budget the features may use: what --cache-memory leaves after the decoded
    pixels kept in memory (an "auto" budget is measured now, with those pixels already
    taken)."""
    budget, why, measured = decode_cache.memory_budget(setting)
    if measured:  # auto: measured now, with the cached pixels already taken
        return budget, why
    held = sum(int(np.prod(d.evaluation.element_spec[0].shape)) * d.count
               for d in decoded if d.location == input_pipeline.MEMORY)
    return max(0, budget - held), f"{why}, less {held / 1e6:.1f} MB of cached pixels"


@dataclasses.dataclass
class _Features:
    """A frozen front's outputs for both splits, computed once, and the model that reads them."""

    reader: keras.Model  # takes the features: what trains on them
    train: tuple[np.ndarray, np.ndarray]  # (features, labels)
    evaluation: tuple[np.ndarray, np.ndarray]

    def fit(self, config: TrainingConfig, log_dir: str, epochs: int,
            stops: list[stopping.Stop], initial_epoch: int = 0, phase: str = "",
            warmup: bool = True) -> History:
        features, labels = self.train
        shuffled = (tf.data.Dataset.from_tensor_slices((features, labels))
                    .shuffle(len(features), seed=config.seed, reshuffle_each_iteration=True)
                    .batch(config.batch_size))
        return self.reader.fit(shuffled, validation_data=self._validation(config),
                               epochs=epochs, initial_epoch=initial_epoch, verbose=0,
                               class_weight=keras_class_weight(config),
                               callbacks=callbacks(config, log_dir, epochs, stops, phase,
                                                   warmup, initial_epoch)).history

    def score(self, config: TrainingConfig) -> tuple[float, float]:
        """(accuracy, -loss) on the validation split: larger is better, accuracy first."""
        loss, accuracy = self.reader.evaluate(self._validation(config), verbose=0)
        return float(accuracy), -float(loss)

    def _validation(self, config: TrainingConfig) -> tf.data.Dataset:
        return weighted_validation(
            tf.data.Dataset.from_tensor_slices(self.evaluation).batch(config.batch_size), config)


def _features_once(split: tuple[keras.Model, keras.Model], train: Batches, evaluation: Batches,
                   config: TrainingConfig, what: str) -> _Features | None:
    """split's front run once over both splits' images, or None (with a progress line) when
    its outputs do not fit the memory budget."""
    front, back = split
    needed = _feature_bytes(front, train.decoded.count + evaluation.decoded.count)
    budget, why = _budget_left(config.cache_memory, train.decoded, evaluation.decoded)
    if needed > budget:
        progress.info("%s: not on features computed once, they (%.1f GB) exceed the memory "
                      "budget (%s)", what, needed / 1e9, why)
        return None
    started = time.perf_counter()
    call = inference(front)
    found = _Features(back, _features(call, train.decoded.evaluation, config.batch_size),
                      _features(call, evaluation.decoded.evaluation, config.batch_size))
    progress.info("%s: the frozen base's features of %d images computed once (%.1f s, %.0f MB, "
                  "%s)", what, len(found.train[0]) + len(found.evaluation[0]),
                  time.perf_counter() - started, needed / 1e6, front.output.shape[1:])
    return found


def _through(model: keras.Model, features: tuple[np.ndarray, np.ndarray],
             batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(model's outputs, labels) of precomputed features: eager calls batch by batch, so
    nothing is traced (a traced predict costs more than these few layers' work)."""
    rows, labels = features
    outputs = [model(rows[start:start + batch_size], training=False).numpy().astype(np.float32)
               for start in range(0, len(rows), batch_size)]
    return np.concatenate(outputs), labels


def _end_to_end(model: keras.Model, train: Batches, evaluation: Batches, config: TrainingConfig,
                log_dir: str, epochs: int, stops: list[stopping.Stop], initial_epoch: int = 0,
                phase: str = "", steps_per_epoch: int | None = None,
                warmup: bool = True) -> History:
    return model.fit(train.training, validation_data=weighted_validation(evaluation.evaluation,
                                                                         config), epochs=epochs,
                     initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch, verbose=0,
                     class_weight=keras_class_weight(config),
                     callbacks=callbacks(config, log_dir, epochs, stops, phase,
                                         warmup, initial_epoch)).history


def _validation_score(model: keras.Model, evaluation: Batches,
                      config: TrainingConfig) -> tuple[float, float]:
    """(accuracy, -loss) on the validation split: larger is better, accuracy first."""
    loss, accuracy = model.evaluate(weighted_validation(evaluation.evaluation, config), verbose=0)
    return float(accuracy), -float(loss)


def _phase_one_on_features(model: keras.Model, module: TrainerModule, config: TrainingConfig,
                           train: Batches, evaluation: Batches,
                           phase_two: bool) -> tuple[_Features | None, _Features | None]:
    """(features phase one trains the head on, features phase two fine-tunes on), each None
    where it has to run end to end.

    When phase two can run on features too (no augmentation: the images are the same every
    epoch), one pass of the base's frozen bottom gives the activations at the boundary
    below the layers it unfreezes; phase one's features are the frozen top's outputs on
    them. Otherwise phase one's features are the whole base's pooled outputs.
    """
    if phase_two and not config.augment and module.split_below_top is not None:
        split = module.split_below_top(model, config.fine_tune_layers)
        below = split and _features_once((split.front, split.back), train, evaluation, config,
                                         "phases one and two")
        if below is not None:
            pooled = _Features(split.head, _through(split.top, below.train, config.batch_size),
                               _through(split.top, below.evaluation, config.batch_size))
            return pooled, below
    return _features_once(module.split_frozen(model), train, evaluation, config,
                          "phase one"), None


def train(model: keras.Model, config: TrainingConfig, num_classes: int, train: Batches,
          evaluation: Batches, log_dir: str, steps_per_epoch: int | None = None
          ) -> tuple[History, list[stopping.Stop], str]:
    """Trains model in place as the resolved config's recipe says; returns the history, how
    each phase stopped and the phase whose weights were kept."""
    module = trainer_module(config.model)
    phase_two = module.fine_tune is not None and bool(config.fine_tune_epochs
                                                   and config.fine_tune_layers)
    stops: list[stopping.Stop] = []
    pooled = below = None
    if module.split_frozen is not None and recipe(config.recipe).bottleneck:
        pooled, below = _phase_one_on_features(model, module, config, train, evaluation, phase_two)
    if pooled is not None:
        progress.info("phase one: training the head on the frozen base's features for up to "
                      "%d epochs", config.head_epochs)
        compile_classifier(pooled.reader, config, num_classes)
        history = pooled.fit(config, log_dir, config.head_epochs, stops, phase="head ")
        first = "head "
    else:
        history = _end_to_end(model, train, evaluation, config, log_dir, config.epochs, stops,
                              steps_per_epoch=steps_per_epoch)
        first = ""
    progress.info(stops[-1].line())
    if not phase_two:
        return history, stops, first
    # On features, the head scores phase one: what back computes, without tracing back twice.
    phase_one = pooled.score(config) if below is not None else _validation_score(model, evaluation, config)
    kept = [(variable, variable.numpy()) for variable in model.weights]
    done = len(history.get("loss", []))
    model = module.fine_tune(model, config, num_classes)
    progress.info("phase two: fine-tuning the top of the base for up to %d epochs at learning "
                  "rate %g%s", config.fine_tune_epochs, config.fine_tune_learning_rate,
                  " on the activations below it, computed once" if below is not None else "")
    if below is not None:
        compile_classifier(below.reader, config, num_classes,
                           learning_rate=config.fine_tune_learning_rate)
        tuned = below.fit(config, log_dir, done + config.fine_tune_epochs, stops,
                          initial_epoch=done, phase="fine-tune ", warmup=False)
        phase_two = below.score(config)
    else:
        tuned = _end_to_end(model, train, evaluation, config, log_dir,
                            done + config.fine_tune_epochs, stops, initial_epoch=done,
                            phase="fine-tune ", steps_per_epoch=steps_per_epoch, warmup=False)
        phase_two = _validation_score(model, evaluation, config)
    progress.info(stops[-1].line())
    history = _merge(history, tuned)
    if phase_two < phase_one:
        for variable, value in kept:
            variable.assign(value)
        progress.info("kept phase one: validation accuracy %.4f after fine-tuning vs %.4f "
                      "before", phase_two[0], phase_one[0])
        return history, stops, first
    progress.info("kept phase two: validation accuracy %.4f (phase one %.4f)", phase_two[0],
                  phase_one[0])
    return history, stops, "fine-tune "
