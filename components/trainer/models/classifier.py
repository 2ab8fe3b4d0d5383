"""What every model shares: the output layer, the loss and the metric, chosen from the number of classes."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from components.trainer.hparams import TrainingConfig


def is_binary(num_classes: int) -> bool:
    """Two classes get one sigmoid unit; more get a softmax over all of them."""
    return num_classes == 2


def output_layer(num_classes: int) -> keras.layers.Layer:
    """Dense(1, sigmoid) for 2 classes, Dense(N, softmax) for N > 2: never more units than classes;
    float32 also under mixed precision (the exported scores stay float32)."""
    if is_binary(num_classes):
        return keras.layers.Dense(1, activation="sigmoid", name="output", dtype="float32")
    return keras.layers.Dense(num_classes, activation="softmax", name="output", dtype="float32")


def compile_classifier(
    model: keras.Model, config: TrainingConfig, num_classes: int, learning_rate: float | None = None
) -> keras.Model:
    """Compiles with the matching loss and accuracy metric and the configured optimizer."""
    optimizer = keras.optimizers.get(
        {"class_name": config.optimizer, "config": {"learning_rate": learning_rate or config.learning_rate}}
    )
    if is_binary(num_classes):
        loss, metric = "binary_crossentropy", keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss = "sparse_categorical_crossentropy"
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
    return model


def class_probabilities(scores, num_classes: int):
    """One column per class: a sigmoid unit's p becomes [1 - p, p]."""
    return tf.concat([1.0 - scores, scores], axis=-1) if is_binary(num_classes) else scores


def split_after(model: keras.Model, index: int) -> tuple[keras.Model, keras.Model]:
    """(front, back) of a straight-line model around model.layers[index]: the input through
    that layer's output in model's graph, and the later layers on an input of their own.
    back shares its layers (so its weights) with model."""
    after = model.layers[index + 1:]
    boundary = after[0].input  # the layer's output as the next layer sees it (nested bases too)
    front = keras.Model(model.input, boundary, name="front")
    back_input = keras.Input(shape=boundary.shape[1:], name="boundary")
    x = back_input
    for layer in after:
        x = layer(x)
    return front, keras.Model(back_input, x, name="back")
