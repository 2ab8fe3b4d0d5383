"""The Trainer's decoded pixels: in memory up to --cache-memory, beyond it on local disk."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from conftest import fn_args

from components.common.image_spec import ImageSpec
from components.image_example_gen.layout import TRAIN, VALIDATION
from components.trainer import decode_cache, input_pipeline
from components.trainer.cache_memory import parse_size
from components.trainer.hparams import TrainingConfig
from components.trainer.run_fn import run_fn
from components.trainer.split_metrics import METRICS_FILE

EPOCHS_6 = {**ImageSpec.square(64).to_custom_config(), "model": "scratch", "epochs": 6,
            "batch_size": 16, "early_stopping_patience": 5}


def _splits(trainer_inputs) -> dict[str, list[str]]:
    return {TRAIN: trainer_inputs["train_files"], VALIDATION: trainer_inputs["eval_files"]}


def test_over_the_budget_pixels_go_to_disk_and_give_the_same_data(trainer_inputs, tmp_path):
    transform = tft.TFTransformOutput(trainer_inputs["transform_output"])
    scratch_root = tmp_path / "scratch"
    with input_pipeline.cached_splits(_splits(trainer_inputs), transform, "auto") as in_memory, \
            input_pipeline.cached_splits(_splits(trainer_inputs), transform, "0",
                                         str(scratch_root)) as on_disk:
        for split in (TRAIN, VALIDATION):
            assert in_memory[split].location == input_pipeline.MEMORY
            assert on_disk[split].location.startswith(str(scratch_root))
            assert list((scratch_root).glob(f"*/{split}/pixels-*{decode_cache.SHARD_SUFFIX}"))
            assert on_disk[split].count == in_memory[split].count > 0

            def pixels_by_label(dataset):
                return sorted((int(label), image.tobytes())
                              for image, label in dataset.as_numpy_iterator())

            # The same images and labels, whatever the order on disk.
            assert pixels_by_label(on_disk[split].evaluation) == pixels_by_label(
                in_memory[split].evaluation)
            assert pixels_by_label(on_disk[split].training) == pixels_by_label(
                in_memory[split].evaluation)
    assert list(scratch_root.iterdir()) == []  # the scratch folder is removed afterwards


def test_a_model_trained_from_disk_matches_one_trained_from_memory(trainer_inputs, tmp_path):
    accuracies = {}
    for setting in ("auto", "0"):
        work = tmp_path / setting
        config = {**EPOCHS_6, "cache_memory": setting, "cache_dir": str(tmp_path / "scratch")}
        run_fn(fn_args(trainer_inputs, work, config))
        metrics = json.loads((work / "model_run" / METRICS_FILE).read_text())
        accuracies[setting] = metrics[VALIDATION]["accuracy"]
        assert tf.saved_model.load(str(work / "serving_model")) is not None
    assert accuracies["auto"] > 0.5  # the demo shapes are learnable in six epochs
    # Only the shuffle order differs (shards vs one cache): validation accuracy agrees closely.
    assert abs(accuracies["auto"] - accuracies["0"]) <= 0.15, accuracies
    assert list((tmp_path / "scratch").iterdir()) == []


def test_class_sorted_data_on_disk_is_mixed_from_the_first_batches(tmp_path):
    """Written class by class (as a folder walk gives them), 6,000 images, 3x the shuffle
    buffer: from memory the first batches hold one class only; from the shards, both."""
    count, shape = 6000, (4, 4, 1)
    labels = np.repeat([0, 1], count // 2).astype(np.int64)
    pixels = np.broadcast_to(labels.astype(np.uint8)[:, None, None, None], (count, *shape))
    sorted_images = tf.data.Dataset.from_tensor_slices((pixels, labels))
    shards, written = decode_cache.write_shards(sorted_images, str(tmp_path), pixels.nbytes, 7)
    assert written == count
    from_disk = decode_cache.read_shards(shards, shape, shuffle=True, seed=7)

    def first_batches_share_of_class_1(dataset) -> float:
        batches = input_pipeline.training_batches(dataset, 32, seed=7).take(4)
        return float(np.concatenate([label for _, label in batches.as_numpy_iterator()]).mean())

    assert first_batches_share_of_class_1(sorted_images) == 0.0
    assert 0.3 <= first_batches_share_of_class_1(from_disk) <= 0.7
    # Every epoch reads the shards in a new order.
    epochs = [np.concatenate([label for _, label in from_disk.batch(500).as_numpy_iterator()])
              for _ in range(2)]
    assert sorted(epochs[0]) == sorted(epochs[1]) and not np.array_equal(*epochs)


def test_too_little_scratch_space_stops_before_decoding_with_a_clear_error(trainer_inputs,
                                                                           tmp_path):
    transform = tft.TFTransformOutput(trainer_inputs["transform_output"])
    with pytest.raises(decode_cache.ScratchSpaceError) as error, input_pipeline.cached_splits(
            _splits(trainer_inputs), transform, "0", str(tmp_path),
            free_probe=lambda folder: 1000):
        pytest.fail("nothing may be decoded without room for it")
    message = str(error.value)
    assert str(tmp_path) in message and "1,000 bytes" in message and "--cache-dir" in message
    assert list(tmp_path.iterdir()) == []


def test_memory_budget_is_a_size_or_half_of_what_is_available():
    assert parse_size("2GB") == 2_000_000_000
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size("0") == 0
    assert parse_size("auto") is None
    budget, why, _ = decode_cache.memory_budget("auto")
    assert 0 < budget <= decode_cache.available_memory()[0] and "half" in why
    with pytest.raises(ValueError, match="--cache-memory 'lots'"):
        TrainingConfig(cache_memory="lots")


def test_bottleneck_features_get_what_the_budget_leaves_after_cached_pixels():
    from components.trainer import fitting

    pixels = tf.data.Dataset.from_tensor_slices(
        (np.zeros((2, 10, 10, 3), np.uint8), np.zeros(2, np.int64)))
    in_memory = input_pipeline.DecodedImages(pixels, pixels, 1000, input_pipeline.MEMORY)
    on_disk = input_pipeline.DecodedImages(pixels, pixels, 1000, "/scratch/train")
    left, why = fitting._budget_left("1MB", in_memory, on_disk)
    assert left == 1_000_000 - 300 * 1000 and "less 0.3 MB of cached pixels" in why
    assert fitting._budget_left("1MB", on_disk)[0] == 1_000_000
    assert fitting._budget_left("100KB", in_memory)[0] == 0


def test_the_budget_pays_for_the_disk_paths_own_buffers(tmp_path):
    """100,000 training images at 150 px go to disk under 1 GB; 10,000 validation images
    (675 MB) would fit the budget alone, but not beside the disk path's shuffle buffer,
    shard permutation and readers, so they go to disk too; a small split still fits."""
    image = 150 * 150 * 3
    shuffle = 2048 * image
    train = 100_000 * image
    reserve = decode_cache.disk_path_memory(train, shuffle)
    assert shuffle < reserve < 1_000_000_000 - 10_000 * image + shuffle

    def planned(validation_images: int) -> decode_cache.CachePlan:
        return decode_cache.plan({TRAIN: train, VALIDATION: validation_images * image}, "1GB",
                                 str(tmp_path), free_probe=lambda folder: 10**13,
                                 shuffle_bytes=shuffle)

    large = planned(10_000)
    assert large.folders[TRAIN] and large.folders[VALIDATION]
    small = planned(1_000)
    assert small.folders[TRAIN] and small.folders[VALIDATION] is None
    assert any("disk path's buffers" in reason for reason in small.reasons)
