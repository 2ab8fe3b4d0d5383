"""The model registry: output shapes and losses for 2 and N classes."""

import numpy as np
import pytest

from components.trainer.hparams import TrainingConfig
from components.trainer.models import MODELS, build_model

CONFIG = TrainingConfig(image_height=40, image_width=40)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_two_classes_get_one_sigmoid_unit(name):
    model = build_model(TrainingConfig(model=name, image_height=40, image_width=40), 2)
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy"


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("num_classes", [3, 24])
def test_n_classes_get_exactly_n_softmax_units(name, num_classes):
    model = build_model(TrainingConfig(model=name, image_height=40, image_width=40), num_classes)
    assert model.output_shape == (None, num_classes)
    probabilities = model.predict(np.zeros((2, 40, 40, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_scratch_is_the_course_architecture():
    model = build_model(CONFIG, 2)
    convs = [layer.filters for layer in model.layers if hasattr(layer, "filters")]
    assert convs == [16, 32, 64]
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [512, 1]


def test_unknown_model_and_single_class_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model"):
        build_model(TrainingConfig(model="resnet9000"), 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model(CONFIG, 1)
