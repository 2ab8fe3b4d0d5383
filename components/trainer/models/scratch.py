"""The course's week-1 CNN for cats vs dogs, built from scratch."""

from __future__ import annotations

import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models.classifier import compile_classifier, output_layer


def build(config: TrainingConfig, image: ImageSpec, num_classes: int) -> keras.Model:
    """Conv16-MaxPool-Conv32-MaxPool-Conv64-MaxPool-Flatten-Dense512-output."""
    model = keras.Sequential(
        [
            keras.Input(shape=image.shape, name="image"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv3"),
            keras.layers.MaxPooling2D(2, name="pool3"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(512, activation="relu", name="dense"),
            output_layer(num_classes),
        ],
        name="scratch",
    )
    return compile_classifier(model, config, num_classes)
