"""The course's CNN body for weeks 2 and 4: conv blocks, Flatten, Dropout, Dense 512, output."""

from __future__ import annotations

import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models.classifier import compile_classifier, output_layer


def conv_block(filters: int, index: int) -> list[keras.layers.Layer]:
    """Conv2D(filters, 3x3, relu, same padding) + MaxPool(2): the course CNNs' building block."""
    return [
        keras.layers.Conv2D(filters, 3, activation="relu", padding="same", name=f"conv{index}"),
        keras.layers.MaxPooling2D(2, name=f"pool{index}"),
    ]


def course_cnn(config: TrainingConfig, image: ImageSpec, num_classes: int,
               filters: tuple[int, ...], name: str) -> keras.Model:
    """Conv blocks -> Flatten -> Dropout (the resolved config's) -> Dense 512 -> output, compiled."""
    model = keras.Sequential(
        [
            keras.Input(shape=image.shape, name="image"),
            *[layer for i, f in enumerate(filters, start=1) for layer in conv_block(f, i)],
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(config.dropout, name="dropout"),
            keras.layers.Dense(512, activation="relu", name="dense"),
            output_layer(num_classes),
        ],
        name=name,
    )
    return compile_classifier(model, config, num_classes)
