"""AutoGraph leaves tf_keras's code as written (as TensorFlow does for `keras`), and training
still trains: the rule that takes a first fit from about 30 s to 3 s on 2 cores."""

import numpy as np
import tf_keras as keras
from tensorflow.python.autograph.impl import conversion

from components.trainer.autograph_rules import leave_tf_keras_unconverted


def test_tf_keras_is_left_unconverted_and_a_model_still_learns():
    assert leave_tf_keras_unconverted()
    assert leave_tf_keras_unconverted()  # a second call adds nothing and still holds
    assert conversion.is_allowlisted(keras.Model.train_step)

    def ours(x):  # code outside tf_keras is still AutoGraph's to convert
        return x

    assert not conversion.is_allowlisted(ours)

    rng = np.random.default_rng(0)
    x = rng.random((256, 4)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int64")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=30, verbose=0).history
    assert history["accuracy"][-1] > 0.9
