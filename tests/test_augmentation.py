"""Augmentation changes training pixels every epoch, never eval pixels, and is the identity when off."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import input_pipeline
from components.trainer.augmentation import affine_transforms, affine_warp, augment_batch
from components.trainer.hparams import COURSE_AUGMENTATION, Augmentation

NONE = Augmentation(rotation=0, width_shift=0, height_shift=0, shear=0, zoom=0,
                    horizontal_flip=False)


def _cached(count: int = 16) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(count) % 2
    return tf.data.Dataset.from_tensor_slices((pixels, labels))


def _epoch(dataset) -> np.ndarray:
    """All images of one pass over the dataset, in the order it gives them."""
    return np.concatenate([x.numpy() for x, _ in dataset])


def test_no_augmentation_is_the_identity():
    images = tf.random.uniform((4, 32, 32, 3))
    np.testing.assert_allclose(augment_batch(images, NONE).numpy(), images.numpy(), atol=1e-6)


def _reference_warp(images: np.ndarray, transforms: tf.Tensor) -> np.ndarray:
    """TensorFlow's own kernel in float: the resampling the course's generator does."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=transforms,
        output_shape=images.shape[1:3], fill_value=0.0, interpolation="BILINEAR",
        fill_mode="NEAREST").numpy()


@pytest.mark.parametrize("channels", [1, 3])
def test_the_warp_resamples_as_tensorflows_projective_transform_kernel(channels):
    # Random noise is the hardest case for interpolation; non-square catches swapped axes.
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(8, 24, 40, channels), dtype=np.uint8)
    transforms = affine_transforms(dataclasses.replace(COURSE_AUGMENTATION, rotation=90, zoom=0.5),
                                   8, 24, 40)
    warped = affine_warp(tf.constant(images), transforms).numpy()
    assert warped.dtype == np.uint8 and warped.shape == images.shape
    difference = np.abs(warped.astype(np.float32) - _reference_warp(images, transforms))
    # OpenCV interpolates in 1/32-pixel steps and rounds to 8 bits.
    assert difference.mean() < 1.5 and difference.max() <= 8
    assert np.abs(warped.astype(np.float32) - images).mean() > 40  # it did move pixels

    floats = images.astype(np.float32) / 255.0  # [0, 1] floats are warped on their own scale
    warped_floats = affine_warp(tf.constant(floats), transforms).numpy()
    assert warped_floats.dtype == np.float32
    difference = np.abs(warped_floats - _reference_warp(floats, transforms)) * 255.0
    assert difference.mean() < 1.5 and difference.max() <= 8


def test_a_horizontal_flip_alone_mirrors_the_image():
    image = tf.random.uniform((1, 8, 8, 1))
    flip_only = dataclasses.replace(NONE, horizontal_flip=True)
    flips = [augment_batch(image, flip_only).numpy() for _ in range(20)]
    mirrored = image.numpy()[:, :, ::-1]
    assert all(np.allclose(f, image.numpy()) or np.allclose(f, mirrored, atol=1e-6) for f in flips)
    assert any(np.allclose(f, mirrored, atol=1e-6) for f in flips)


def test_training_batches_change_every_epoch_and_eval_batches_never():
    cached = _cached()
    augment = lambda images: augment_batch(images, COURSE_AUGMENTATION)  # noqa: E731
    train = input_pipeline.training_batches(cached, 16, augment=augment, seed=1)
    plain = input_pipeline.training_batches(cached, 16, augment=None, seed=1)
    first, second, reference = _epoch(train), _epoch(train), _epoch(plain)
    # Same images in a new order each epoch: compare the sorted per-image sums.
    sums = lambda batch: np.sort(batch.reshape(len(batch), -1).sum(axis=1))  # noqa: E731
    assert not np.allclose(sums(first), sums(reference))  # pixels really changed
    assert not np.allclose(sums(first), sums(second))  # and differently each epoch
    assert first.min() >= 0.0 and first.max() <= 1.0

    evaluation = input_pipeline.evaluation_batches(cached, 16)
    original = np.stack([p.numpy() for p, _ in cached]).astype(np.float32) / 255.0
    np.testing.assert_allclose(_epoch(evaluation), original, atol=1e-6)
    np.testing.assert_allclose(_epoch(evaluation), original, atol=1e-6)


def test_images_are_decoded_once_up_front_and_served_from_memory(trainer_inputs, tmp_path):
    import shutil

    import tensorflow_transform as tft

    examples = Path(trainer_inputs["train_files"][0]).parent
    copy = shutil.copytree(examples, tmp_path / "Split-train")
    cached = input_pipeline.decoded_images(
        [str(copy / "*")], tft.TFTransformOutput(trainer_inputs["transform_output"]))
    shutil.rmtree(copy)  # every image must already be decoded and cached
    count = cached.count
    assert count > 100 and cached.location == input_pipeline.MEMORY
    first = _epoch(input_pipeline.evaluation_batches(cached.evaluation, 32))
    assert first.shape == (count, 64, 64, 3) and first.std() > 0.05
    np.testing.assert_array_equal(_epoch(input_pipeline.evaluation_batches(cached.evaluation, 32)),
                                  first)
