"""The course's week-2 CNN against overfitting: four conv blocks, dropout, trained on augmented images.

'same' padding (the course uses 'valid' at 150 px) so the four 2x2 poolings also fit
small images such as 28 px Rock-Paper-Scissors or sign MNIST.
"""

from __future__ import annotations

import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models.course_cnn import course_cnn

FILTERS = (32, 64, 128, 128)
DROPOUT = 0.5


def build(config: TrainingConfig, image: ImageSpec, num_classes: int) -> keras.Model:
    """Conv32-64-128-128 (each + MaxPool) -> Flatten -> Dropout -> Dense 512 -> output."""
    return course_cnn(config, image, num_classes, FILTERS, name="augmented")
