"""The course's week-2 CNN against overfitting: four conv blocks, dropout, trained on augmented images.

'same' padding (the course uses 'valid' at 150 px) so the four 2x2 poolings also fit
small images such as 28 px Rock-Paper-Scissors or sign MNIST.
"""

from __future__ import annotations

import tf_keras as keras

from components.trainer.hparams import TrainingConfig
from components.trainer.models.heads import compile_classifier, conv_block, output_layer

DROPOUT = 0.5


def build(config: TrainingConfig, num_classes: int) -> keras.Model:
    """Conv32-64-128-128 (each + MaxPool) -> Flatten -> Dropout 0.5 -> Dense 512 -> output."""
    model = keras.Sequential(
        [
            keras.Input(shape=config.input_shape, name="image"),
            *conv_block(32, 1),
            *conv_block(64, 2),
            *conv_block(128, 3),
            *conv_block(128, 4),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(DROPOUT if config.dropout is None else config.dropout,
                                 name="dropout"),
            keras.layers.Dense(512, activation="relu", name="dense"),
            output_layer(num_classes),
        ],
        name="augmented",
    )
    return compile_classifier(model, config, num_classes)
