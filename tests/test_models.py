"""The model registry: output shapes and losses for 2 and N classes."""

import numpy as np
import pytest

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models import MODELS, build_model, resolve_defaults

IMAGE = ImageSpec.square(40)
CONFIG = resolve_defaults(TrainingConfig())


def _config(name: str) -> TrainingConfig:
    """The transfer model offline (no ImageNet download) on MobileNetV2."""
    return resolve_defaults(TrainingConfig(model=name, base="mobilenet_v2", alpha=0.35,
                                           weights="none"))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_two_classes_get_one_sigmoid_unit(name):
    model = build_model(_config(name), IMAGE, 2)
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy"


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("num_classes", [3, 24])
def test_n_classes_get_exactly_n_softmax_units(name, num_classes):
    model = build_model(_config(name), IMAGE, num_classes)
    assert model.output_shape == (None, num_classes)
    probabilities = model.predict(np.zeros((2, 40, 40, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_scratch_is_the_course_architecture():
    model = build_model(CONFIG, IMAGE, 2)
    convs = [layer.filters for layer in model.layers if hasattr(layer, "filters")]
    assert convs == [16, 32, 64]
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [512, 1]


def test_unknown_model_and_single_class_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model"):
        build_model(resolve_defaults(TrainingConfig(model="resnet9000")), IMAGE, 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model(CONFIG, IMAGE, 1)
    with pytest.raises(ValueError, match="resolved"):
        build_model(TrainingConfig(), IMAGE, 3)


def test_augmented_and_multiclass_are_the_course_architectures():
    augmented = build_model(_config("augmented"), IMAGE, 2)
    assert [layer.filters for layer in augmented.layers if hasattr(layer, "filters")] == [
        32, 64, 128, 128]
    assert augmented.get_layer("dropout").rate == 0.5
    multiclass = build_model(_config("multiclass"), IMAGE, 3)
    assert [layer.filters for layer in multiclass.layers if hasattr(layer, "filters")] == [
        64, 64, 128, 128]
    assert [layer.units for layer in multiclass.layers if hasattr(layer, "units")] == [512, 3]


def test_dropout_comes_from_the_config():
    config = resolve_defaults(TrainingConfig(model="augmented", dropout=0.3))
    assert build_model(config, IMAGE, 3).get_layer("dropout").rate == 0.3


def test_the_modules_course_defaults_are_resolved_once_into_the_config():
    transfer = resolve_defaults(TrainingConfig(model="transfer", recipe="course"))
    assert (transfer.learning_rate, transfer.dropout, transfer.augment) == (1e-4, 0.2, False)
    augmented = resolve_defaults(TrainingConfig(model="augmented", learning_rate=3e-3))
    assert (augmented.learning_rate, augmented.dropout, augmented.augment) == (3e-3, 0.5, True)
    assert resolve_defaults(augmented) == augmented


@pytest.mark.parametrize("name", ["scratch", "transfer"])
def test_feature_maps_show_a_row_per_layer_of_the_image_and_its_channels(name, tmp_path):
    from PIL import Image

    from components.insights.figures import CELL, _feature_layers, feature_maps

    model = build_model(_config(name), IMAGE, 3)
    images = np.random.default_rng(0).random((2, 40, 40, 3)).astype("float32")
    paths = feature_maps(model, images, ["first", "second"],
                         [str(tmp_path / "first.png"), str(tmp_path / "second.png")])
    drawn = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    rows = len(_feature_layers(model))
    assert rows >= 3
    for picture in drawn:
        assert picture.shape[0] > rows * CELL * 0.5  # every layer's row is there
        assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 500  # channels, not blank cells
    assert not np.array_equal(drawn[0], drawn[1])  # each figure shows its own image's maps
