"""The course's week-4 Rock-Paper-Scissors CNN: softmax over however many classes the data has.

'same' padding (the course uses 'valid' at 150 px) so small images fit too.
"""

from __future__ import annotations

import tf_keras as keras

from components.trainer.hparams import TrainingConfig
from components.trainer.models.heads import course_cnn

FILTERS = (64, 64, 128, 128)
DROPOUT = 0.5


def build(config: TrainingConfig, num_classes: int) -> keras.Model:
    """Conv64-64-128-128 (each + MaxPool) -> Flatten -> Dropout 0.5 -> Dense 512 -> output."""
    return course_cnn(config, num_classes, FILTERS, DROPOUT, name="multiclass")
