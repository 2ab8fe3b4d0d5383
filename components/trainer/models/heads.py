"""What every model shares: the output layer and the loss, chosen from the number of classes."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from components.trainer.hparams import TrainingConfig


def is_binary(num_classes: int) -> bool:
    """Two classes get one sigmoid unit; more get a softmax over all of them."""
    return num_classes == 2


def output_layer(num_classes: int) -> keras.layers.Layer:
    """Dense(1, sigmoid) for 2 classes, Dense(N, softmax) for N > 2: never more units than classes."""
    if is_binary(num_classes):
        return keras.layers.Dense(1, activation="sigmoid", name="output")
    return keras.layers.Dense(num_classes, activation="softmax", name="output")


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


def conv_block(filters: int, index: int) -> list[keras.layers.Layer]:
    """Conv2D(filters, 3x3, relu, same padding) + MaxPool(2): the course CNNs' building block."""
    return [
        keras.layers.Conv2D(filters, 3, activation="relu", padding="same", name=f"conv{index}"),
        keras.layers.MaxPooling2D(2, name=f"pool{index}"),
    ]


def class_probabilities(scores, num_classes: int):
    """One column per class: a sigmoid unit's p becomes [1 - p, p]."""
    return tf.concat([1.0 - scores, scores], axis=-1) if is_binary(num_classes) else scores


def course_cnn(config: TrainingConfig, num_classes: int, filters: tuple[int, ...],
               dropout: float, name: str) -> keras.Model:
    """The course's weeks 2 and 4 shape: conv blocks -> Flatten -> Dropout -> Dense 512 -> output."""
    model = keras.Sequential(
        [
            keras.Input(shape=config.input_shape, name="image"),
            *[layer for i, f in enumerate(filters, start=1) for layer in conv_block(f, i)],
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(dropout if config.dropout is None else config.dropout,
                                 name="dropout"),
            keras.layers.Dense(512, activation="relu", name="dense"),
            output_layer(num_classes),
        ],
        name=name,
    )
    return compile_classifier(model, config, num_classes)
