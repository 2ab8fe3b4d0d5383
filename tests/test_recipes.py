"""Recipes: the default that converges and the course's exact one; transfer in two phases on
bottleneck features; mixed precision that exports the same float32 model; Grad-CAM."""


import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from PIL import Image
from test_trainer_modules import _mobilenet_weights_file

from components.common import label_vocabulary
from components.common.image_spec import ImageSpec
from components.insights import grad_cam
from components.insights.figures import INSIGHTS_DIR
from components.trainer import fitting, input_pipeline
from components.trainer.augmentation import augment_batch
from components.trainer.hparams import COURSE_AUGMENTATION, OPTIMIZERS, Augmentation, TrainingConfig
from components.trainer.models import build_model, resolve_defaults
from components.trainer.models.classifier import class_probabilities
from components.trainer.models.transfer import BASE_LAYER, layers_to_unfreeze
from components.trainer.recipes import COURSE_RANGES, GENTLE_RANGES, RECIPES, SCRATCH_RATE
from components.trainer.signatures import export_serving_model
from pipeline.data_tools.demo import CLASSES

IMAGE = ImageSpec.square(48)


def test_each_recipe_fills_what_the_user_left_unset():
    default = resolve_defaults(TrainingConfig(model="augmented"))
    assert (default.optimizer, default.learning_rate, default.early_stopping_patience) == (
        "adam", 1e-3, RECIPES["default"].patience)
    course = resolve_defaults(TrainingConfig(model="augmented", recipe="course"))
    assert (course.optimizer, course.learning_rate, course.early_stopping_patience) == (
        "rmsprop", 1e-4, 3)  # the course notebook's week-2 settings
    assert resolve_defaults(TrainingConfig(model="scratch", recipe="course")).learning_rate == 1e-3
    # The default trains the scratch CNN (no dropout, no augmentation) at its own lower rate.
    assert resolve_defaults(TrainingConfig(model="scratch")).learning_rate == SCRATCH_RATE < 1e-3
    assert resolve_defaults(TrainingConfig(model="scratch", learning_rate=2e-3)).learning_rate == 2e-3
    mine = resolve_defaults(TrainingConfig(model="augmented", learning_rate=3e-3, optimizer="sgd",
                                           early_stopping_patience=9))
    assert (mine.optimizer, mine.learning_rate, mine.early_stopping_patience) == ("sgd", 3e-3, 9)
    # Two phases by default only where a base has pretrained weights; 0 switches phase two off.
    pretrained = resolve_defaults(TrainingConfig(model="transfer", weights="imagenet"))
    assert (pretrained.fine_tune_layers, pretrained.fine_tune_epochs) == (
        RECIPES["default"].fine_tune_layers, RECIPES["default"].fine_tune_epochs)
    assert pretrained.fine_tune_epochs > 0 and pretrained.fine_tune_layers > 0
    assert resolve_defaults(TrainingConfig(model="transfer", weights="none")).fine_tune_epochs == 0
    off = resolve_defaults(TrainingConfig(model="transfer", fine_tune_layers=0))
    assert off.fine_tune_layers == 0
    assert resolve_defaults(TrainingConfig(model="transfer", recipe="course")).fine_tune_epochs == 0
    # The head on features computed once trains until validation stops it (the recipe's cap,
    # not --epochs); the course recipe's head trains end to end, for --epochs.
    assert pretrained.head_epochs == RECIPES["default"].head_epochs
    assert resolve_defaults(TrainingConfig(model="transfer", epochs=15)).head_epochs == (
        RECIPES["default"].head_epochs)
    assert resolve_defaults(TrainingConfig(model="transfer", recipe="course", epochs=7)
                            ).head_epochs == 7
    assert resolve_defaults(TrainingConfig(model="transfer", head_epochs=3)).head_epochs == 3
    # How far augmentation moves an image: the recipe's ranges where the user set none; the
    # user's --rotation wins under either recipe, and the flips stay the course's.
    assert default.augmentation.rotation == GENTLE_RANGES.rotation < COURSE_RANGES.rotation
    assert (default.augmentation.zoom, default.augmentation.width_shift) == (
        GENTLE_RANGES.zoom, GENTLE_RANGES.width_shift)
    assert course.augmentation == COURSE_AUGMENTATION
    assert course.augmentation.rotation == 40 and course.augmentation.horizontal_flip
    for name in RECIPES:
        turned = resolve_defaults(TrainingConfig(model="augmented", recipe=name,
                                                 augmentation=Augmentation(rotation=5)))
        assert turned.augmentation.rotation == 5
        assert turned.augmentation.zoom == RECIPES[name].augmentation.zoom
    with pytest.raises(ValueError, match="augmentation range"):
        augment_batch(tf.zeros((1, 8, 8, 3)), Augmentation())  # unresolved: no silent default
    with pytest.raises(ValueError, match="--recipe"):
        TrainingConfig(recipe="grandma")
    # An optimizer name the Trainer could not build is an error before the run, not in it.
    with pytest.raises(ValueError, match="--optimizer 'adamw'"):
        TrainingConfig(optimizer="adamw")
    for name in (*OPTIMIZERS, "Nadam"):  # every name the error offers builds
        assert TrainingConfig(optimizer=name).optimizer == name


def _decoded(count: int, seed: int) -> input_pipeline.DecodedImages:
    """Tiny two-class uint8 images (dark vs bright squares), as the decode cache gives them."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    pixels = rng.integers(0, 90, (count, 48, 48, 3)).astype(np.uint8)
    pixels[labels == 1, 12:36, 12:36] += 150
    dataset = tf.data.Dataset.from_tensor_slices((pixels, labels.astype(np.int64)))
    return input_pipeline.DecodedImages(dataset, dataset, count, input_pipeline.MEMORY)


def _batches(decoded, batch_size: int) -> fitting.Batches:
    return fitting.Batches(input_pipeline.training_batches(decoded.training, batch_size),
                           input_pipeline.evaluation_batches(decoded.evaluation, batch_size),
                           decoded)


def test_two_phases_train_the_head_on_features_then_unfreeze_the_top(tmp_path, caplog):
    weights = _mobilenet_weights_file(tmp_path, size=48)
    config = resolve_defaults(TrainingConfig(
        model="transfer", base="mobilenet_v2", alpha=0.35, weights=weights, epochs=2,
        head_epochs=2, fine_tune_layers=12, fine_tune_epochs=1, batch_size=8))
    model = build_model(config, IMAGE, 2)
    base = model.get_layer(BASE_LAYER)
    frozen_before = [w.numpy().copy() for w in base.weights]
    head_before = model.get_layer("output").kernel.numpy().copy()
    caplog.set_level("INFO", logger="visionpipe.progress")
    history, _, _ = fitting.train(model, config, 2, _batches(_decoded(32, 0), 8),
                                  _batches(_decoded(16, 1), 8), str(tmp_path / "logs"))

    assert len(history["loss"]) == 3  # 2 head epochs on features + 1 fine-tuning epoch
    assert "lr" in history  # the default recipe's plateau schedule ran
    assert "features of 48 images computed once" in caplog.text
    assert "on the activations below it, computed once" in caplog.text  # phase two, no images
    # This random base's features are tiny (about 1e-11), so the head's steps are too: any change.
    assert not np.array_equal(head_before, model.get_layer("output").kernel.numpy())
    count = layers_to_unfreeze(base, 12)
    top, bottom = base.layers[-count:], base.layers[:-count]
    assert all(not layer.trainable for layer in bottom)
    assert {layer.name for layer in top if layer.trainable} == {
        layer.name for layer in top if not isinstance(layer, keras.layers.BatchNormalization)}
    bottom_names = {w.name for layer in bottom for w in layer.weights}
    for before, weight in zip(frozen_before, base.weights, strict=True):
        if weight.name in bottom_names or "moving_" in weight.name:  # batch norm: inference mode
            np.testing.assert_array_equal(before, weight.numpy())


def test_mixed_precision_two_phase_transfer_exports_the_same_float32_scores(trainer_inputs,
                                                                           tmp_path):
    """float16 compute forced on this CPU, two phases: the export takes raw Examples and
    returns float32 probabilities equal to the trained model's in memory."""
    transform = tft.TFTransformOutput(trainer_inputs["transform_output"])
    class_names = label_vocabulary.read(label_vocabulary.in_examples(trainer_inputs["train_files"]))
    config = resolve_defaults(TrainingConfig(
        model="transfer", base="mobilenet_v2", alpha=0.35, weights=_mobilenet_weights_file(tmp_path),
        epochs=2, head_epochs=2, fine_tune_layers=10, fine_tune_epochs=1, batch_size=16,
        mixed_precision="on"))
    train = input_pipeline.decoded_images(trainer_inputs["train_files"], transform)
    evaluation = input_pipeline.decoded_images(trainer_inputs["eval_files"], transform)
    with fitting.precision_policy(config.mixed_precision) as mixed:
        assert mixed and keras.mixed_precision.global_policy().name == "mixed_float16"
        model = build_model(config, ImageSpec.square(64), len(class_names))
        history, _, _ = fitting.train(model, config, len(class_names), _batches(train, 16),
                                      _batches(evaluation, 16), str(tmp_path / "logs"))
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert len(history["loss"]) == 3
    convolutions = [layer for layer in model.get_layer(BASE_LAYER).layers
                    if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions[0].compute_dtype == "float16" and convolutions[0].dtype == "float32"

    export_serving_model(model, transform, class_names, str(tmp_path / "export"))
    served = tf.saved_model.load(str(tmp_path / "export"))
    files = input_pipeline.split_files(trainer_inputs["eval_files"])
    records = tf.data.TFRecordDataset(files, compression_type="GZIP",
                                      num_parallel_reads=tf.data.AUTOTUNE).take(8)
    out = served.signatures["serving_examples"](examples=tf.stack(list(records)))
    assert out["probabilities"].dtype == tf.float32
    pixels = np.stack([p for p, _ in evaluation.evaluation.take(8)]).astype(np.float32) / 255.0
    expected = class_probabilities(model(pixels, training=False), len(class_names))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected.numpy(), atol=1e-2)


@pytest.mark.parametrize("name", ["scratch", "transfer"])
def test_grad_cam_heat_is_where_the_evidence_is_and_differs_between_images(name, tmp_path):
    extra = {"base": "mobilenet_v2", "alpha": 0.35, "weights": "none"} if name == "transfer" else {}
    config = resolve_defaults(TrainingConfig(model=name, batch_size=8, **extra))
    model = build_model(config, IMAGE, 2)
    decoded = _decoded(24, 2)
    model.fit(_batches(decoded, 8).training, epochs=2, verbose=0)
    images = np.stack([p for p, _ in decoded.evaluation.take(4)]).astype(np.float32) / 255.0
    heat = grad_cam.heatmaps(model, images, np.array([0, 1, 0, 1]))
    assert heat.shape == (4, 48, 48) and heat.min() >= 0 and heat.max() <= 1
    assert not np.allclose(heat[0], heat[1])  # not one picture for every image
    assert any(h.std() > 0 for h in heat)  # not blank
    in_batches = grad_cam.heatmaps(model, images, np.array([0, 1, 0, 1]), batch_size=3)
    np.testing.assert_allclose(in_batches, heat, atol=1e-4)  # each image's heat is its own


def test_the_report_pictures_include_grad_cam_for_each_class_on_the_test_split(demo_run):
    summary = json.loads((demo_run["output"] / "shapes" / "summary.json").read_text())
    insights = Path(summary["evaluation"]) / INSIGHTS_DIR
    pictures = []
    for shape in CLASSES:
        with Image.open(insights / f"{grad_cam.GRAD_CAM_PREFIX}{shape}.png") as picture:
            assert picture.format == "PNG"
            pictures.append(np.asarray(picture.convert("RGB"), np.float32))
    assert pictures[0].std() > 10  # not a blank page
