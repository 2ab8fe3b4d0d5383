"""The course's week-4 Rock-Paper-Scissors CNN: softmax over however many classes the data has.

'same' padding (the course uses 'valid' at 150 px) so small images fit too.
"""

from __future__ import annotations

import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models.course_cnn import course_cnn

FILTERS = (64, 64, 128, 128)
DROPOUT = 0.5


def build(config: TrainingConfig, image: ImageSpec, num_classes: int) -> keras.Model:
    """Conv64-64-128-128 (each + MaxPool) -> Flatten -> Dropout -> Dense 512 -> softmax."""
    return course_cnn(config, image, num_classes, FILTERS, name="multiclass")
