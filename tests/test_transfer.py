"""Transfer learning: the cut layer, weights files (fitting and not), frozen and fine-tuned layers."""

import numpy as np
import pytest
import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig
from components.trainer.models import build_model, resolve_defaults
from components.trainer.models.classifier import compile_classifier
from components.trainer.models.transfer import (
    BASE_LAYER,
    WeightsMismatch,
    fine_tune,
    split_below_top,
)

IMAGE = ImageSpec.square(48)
INCEPTION_IMAGE = ImageSpec.square(75)


def _config(**changes) -> TrainingConfig:
    values = {"model": "transfer", "base": "mobilenet_v2", "alpha": 0.35, "weights": "none",
              "batch_size": 4, "learning_rate": 1e-2, "optimizer": "adam"}
    return resolve_defaults(TrainingConfig(**{**values, **changes}))


def _weights_file(tmp_path, alpha: float) -> str:
    """A MobileNetV2 no-top weights file made here, as a user's private file would be."""
    base = keras.applications.MobileNetV2(alpha=alpha, include_top=False, weights=None,
                                          input_shape=(48, 48, 3))
    for weight in base.weights:  # distinct values, so loading is visible
        weight.assign(np.random.default_rng(len(weight.name)).normal(size=weight.shape) * 0.01)
    path = str(tmp_path / f"mobilenet_v2_{alpha}_no_top.h5")
    base.save_weights(path)
    return path, base


def _fit_two_steps(model):
    rng = np.random.default_rng(0)
    x = rng.random((8, 48, 48, 3)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)


def test_inception_is_cut_at_mixed7_by_default_and_where_asked():
    model = build_model(_config(base="inception_v3"), INCEPTION_IMAGE, 3)
    assert model.get_layer(BASE_LAYER).layers[-1].name == "mixed7"
    assert [layer.name for layer in model.layers[-4:]] == ["flatten", "dense", "dropout", "output"]
    cut = build_model(_config(base="inception_v3", cut_layer="mixed5"), INCEPTION_IMAGE, 3)
    assert cut.get_layer(BASE_LAYER).layers[-1].name == "mixed5"
    with pytest.raises(ValueError, match="no layer 'mixed99'"):
        build_model(_config(base="inception_v3", cut_layer="mixed99"), INCEPTION_IMAGE, 3)


def test_a_weights_file_loads_through_weights_path(tmp_path):
    path, source = _weights_file(tmp_path, 0.35)
    model = build_model(_config(weights=path), IMAGE, 3)
    base = model.get_layer(BASE_LAYER)
    for loaded, saved in zip(base.weights, source.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())


def test_a_mismatched_weights_file_names_file_and_base(tmp_path):
    path, _ = _weights_file(tmp_path, 0.35)
    with pytest.raises(WeightsMismatch) as error:
        build_model(_config(weights=path, alpha=0.5), IMAGE, 3)
    assert path in str(error.value) and "mobilenet_v2, alpha 0.5" in str(error.value)


def test_frozen_base_does_not_change_while_the_head_trains(tmp_path):
    model = build_model(_config(), IMAGE, 3)
    base = model.get_layer(BASE_LAYER)
    assert not base.trainable and base.trainable_weights == []
    before = [w.numpy().copy() for w in base.weights]  # incl. batch-norm moving statistics
    head_before = model.get_layer("output").kernel.numpy().copy()
    _fit_two_steps(model)
    for old, new in zip(before, base.weights, strict=True):
        np.testing.assert_array_equal(old, new.numpy())
    assert not np.allclose(head_before, model.get_layer("output").kernel.numpy())


def test_fine_tuning_unfreezes_only_the_top_layers_and_keeps_batch_norm_frozen():
    config = _config(fine_tune_layers=10, fine_tune_learning_rate=1e-2)
    model = fine_tune(build_model(config, IMAGE, 3), config, 3)
    base = model.get_layer(BASE_LAYER)
    top, bottom = base.layers[-10:], base.layers[:-10]
    assert all(not layer.trainable for layer in bottom)
    trainable_top = [layer for layer in top if layer.trainable]
    assert trainable_top and all(
        not isinstance(layer, keras.layers.BatchNormalization) for layer in trainable_top)
    bottom_before = [w.numpy().copy() for layer in bottom for w in layer.weights]
    batch_norm = [w for layer in top if isinstance(layer, keras.layers.BatchNormalization)
                  for w in layer.weights]
    bn_before = [w.numpy().copy() for w in batch_norm]
    top_before = [w.numpy().copy() for layer in trainable_top for w in layer.trainable_weights]
    _fit_two_steps(model)
    after = [w.numpy() for layer in bottom for w in layer.weights]
    assert all(np.array_equal(a, b) for a, b in zip(bottom_before, after, strict=True))
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(bn_before, batch_norm, strict=True))
    top_after = [w.numpy() for layer in trainable_top for w in layer.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(top_before, top_after, strict=True))


@pytest.mark.parametrize("base,size,layers", [("mobilenet_v2", 48, 10), ("inception_v3", 75, 0.2)])
def test_fine_tuning_on_activations_below_the_top_trains_the_model_itself(base, size, layers):
    """Phase two trains the top of the base on activations computed once below it: the cut
    is a boundary no residual crosses (the split model computes exactly what the model
    does), below every unfrozen layer, and training the split trains the model."""
    config = _config(base=base, alpha=1.0 if base != "mobilenet_v2" else 0.35,
                     fine_tune_layers=layers, fine_tune_learning_rate=1e-2)
    image = ImageSpec.square(size)
    model = fine_tune(build_model(config, image, 3), config, 3)
    split = split_below_top(model, layers)
    x = np.random.default_rng(0).random((8, size, size, 3)).astype("float32")
    np.testing.assert_allclose(split.back(split.front(x)), model(x, training=False), atol=1e-5)
    np.testing.assert_allclose(split.head(split.top(split.front(x))), model(x, training=False),
                               atol=1e-5)
    assert not split.front.trainable_weights  # everything unfrozen lies above the cut
    base_layer = model.get_layer(BASE_LAYER)
    unfrozen = {w.name for w in base_layer.trainable_weights}
    assert unfrozen and unfrozen <= {w.name for w in split.back.trainable_weights}

    before = model(x, training=False).numpy()
    compile_classifier(split.back, config, 3)
    split.back.fit(split.front(x).numpy(), np.arange(8) % 3, batch_size=4, epochs=1, verbose=0)
    after = model(x, training=False).numpy()
    assert not np.allclose(before, after)
    np.testing.assert_allclose(split.back(split.front(x)), after, atol=1e-5)


def test_grey_images_feed_a_pretrained_rgb_base():
    model = build_model(_config(), ImageSpec(48, 48, channels=1), 24)
    assert model.predict(np.zeros((2, 48, 48, 1), "float32"), verbose=0).shape == (2, 24)


@pytest.mark.parametrize("base", ["inception_v3", "mobilenet_v2", "efficientnet_b0"])
def test_each_base_applies_its_own_preprocess_input_in_the_graph(base):
    from components.trainer.models.transfer import BASES, PreprocessInput

    images = np.random.default_rng(1).random((2, 8, 8, 3)).astype("float32")  # [0, 1] as served
    expected = BASES[base].preprocess_input(images * 255.0)
    np.testing.assert_allclose(PreprocessInput(base)(images).numpy(), np.asarray(expected),
                               rtol=1e-5, atol=1e-5)


def test_offline_imagenet_weights_stop_the_run_in_one_line_before_it_starts(tmp_path, capsys,
                                                                           monkeypatch):
    """No Keras cache and no route to the weights server (a proxy nobody listens on): the run
    stops at once, naming the two ways out, before any component ran."""
    from conftest import run_main

    from pipeline.data_tools.demo import make_demo_data

    data = make_demo_data(tmp_path / "data", images_per_class=4, seed=0)
    home = tmp_path / "home"
    home.mkdir()
    dead = "http://127.0.0.1:9"
    for variable, value in (("HOME", str(home)), ("HTTPS_PROXY", dead), ("https_proxy", dead)):
        monkeypatch.setenv(variable, value)
    result = run_main(capsys, "run", "--data", str(data), "--output", str(tmp_path / "runs"),
                      "--model", "transfer", "--base", "mobilenet_v2", "--alpha", "0.35",
                      "--image-size", "96")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert "--weights FILE" in lines[0] and "--weights none" in lines[0]
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5" in lines[0]
    assert not (tmp_path / "runs" / "visionpipe" / "artifacts").exists()


def test_cached_imagenet_weights_pass_the_check_without_the_network(tmp_path, monkeypatch):
    from components.trainer.models.imagenet_weights import (
        WeightsUnavailable,
        check_weights,
        weights_url,
    )

    monkeypatch.setenv("HOME", str(tmp_path))
    config = _config(weights="imagenet")
    offline = lambda url: False  # noqa: E731
    with pytest.raises(WeightsUnavailable, match="--weights none"):
        check_weights(config, IMAGE, probe=offline)
    # MobileNetV2 has no 48 px weights: Keras fetches its 224 px file, and so does the check.
    url = weights_url(config, IMAGE)
    assert url.endswith("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5")
    cached = tmp_path / ".keras" / "models" / url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    check_weights(config, IMAGE, probe=offline)  # found in the cache: no error
    check_weights(_config(weights="none"), IMAGE, probe=offline)  # nothing to fetch
