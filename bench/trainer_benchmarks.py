"""Trainer benchmarks (issues 3 and 8), measured side by side in one run; prints a Markdown report.

    make bench-trainer
    python -m bench.trainer_benchmarks --report BENCH.md [--skip-accuracy]

1. The training input (read + decode + resize + augment, images/s) vs the course's
   ImageDataGenerator(...).flow_from_directory with the same augmentation on the same files.
2. Training throughput of each module fed by the input pipeline vs plain Keras fit on an
   in-memory tensor of the same images.
3. Accuracy and wall time of each module through the whole pipeline on ../shared/data/rps_28px
   (train -> test) and on a split of ../shared/data/sign_mnist_sample.csv.gz; transfer uses
   the real ImageNet MobileNetV2 (alpha 0.35) weights in ../shared/data/weights/.
"""

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from bench.common import REPO, SHARED, finish, report_option
from bench.photos import photo_sized
from components.common.image_spec import ImageSpec
from components.trainer import input_pipeline
from components.trainer.augmentation import (
    affine_transforms,
    affine_warp,
    augment_batch,
)
from components.trainer.hparams import COURSE_AUGMENTATION, TrainingConfig
from components.trainer.models import build_model, resolve_defaults

RPS = SHARED / "rps_28px"
SIGN = SHARED / "sign_mnist_sample.csv.gz"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_0.35_224_imagenet_from_teachablemachine_no_top.h5"
SIZE = 150
AUTOTUNE = tf.data.AUTOTUNE
EPOCHS = 3


def cli(*args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", *args], cwd=REPO,
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    output = Path(args[args.index("--output") + 1]) / args[args.index("--name") + 1]
    summary = json.loads((output / "summary.json").read_text()) if (
        output / "summary.json").exists() else {"error": result.stderr[-500:]}
    return wall, summary


def artifacts(run_dir: Path) -> tuple[list[str], tft.TFTransformOutput]:
    root = run_dir / "artifacts"
    examples = sorted((root / "ImageExampleGen" / "examples").iterdir())[-1]
    graph = sorted((root / "Transform" / "transform_graph").iterdir())[-1]
    return [str(examples / "Split-train" / "*")], tft.TFTransformOutput(str(graph))


REPEATS = 3  # this machine's speed varies from minute to minute: medians of interleaved repeats


def images_per_second(dataset: tf.data.Dataset, epochs: int) -> float:
    count, started = 0, time.perf_counter()
    for _ in range(epochs):
        for images, _ in dataset:
            count += int(images.shape[0])
    return count / (time.perf_counter() - started)


def input_benchmark(photos: Path, work: Path) -> list[str]:
    # A one-step pipeline run gives real Examples and the real transform graph at 150 px.
    cli("--data", str(photos), "--name", "photos", "--output", str(work), "--image-size",
        str(SIZE), "--epochs", "1", "--steps-per-epoch", "1", "--min-accuracy", "0",
        "--min-class-recall", "0")
    files, transform = artifacts(work / "photos")
    augment = functools.partial(augment_batch, config=COURSE_AUGMENTATION)
    course = COURSE_AUGMENTATION  # the same ranges on both sides
    generator = keras.preprocessing.image.ImageDataGenerator(
        rescale=1 / 255, rotation_range=course.rotation, width_shift_range=course.width_shift,
        height_shift_range=course.height_shift, shear_range=course.shear,
        zoom_range=course.zoom, horizontal_flip=course.horizontal_flip, fill_mode="nearest")
    flow = generator.flow_from_directory(str(photos), target_size=(SIZE, SIZE), batch_size=32,
                                         class_mode="binary")

    def course_rate() -> float:
        started, count = time.perf_counter(), 0
        for _ in range(EPOCHS * len(flow)):
            images, _ = next(flow)
            count += len(images)
        return count / (time.perf_counter() - started)

    def our_rate() -> float:  # a fresh cache each time: decoding is part of the cost
        started = time.perf_counter()
        batches = input_pipeline.training_batches(
            input_pipeline.decoded_images(files, transform).training, 32, augment=augment)
        count = sum(int(images.shape[0]) for _ in range(EPOCHS) for images, _ in batches)
        return count / (time.perf_counter() - started)

    return side_by_side(
        f"Training input: read + decode + resize to {SIZE} px + course augmentation, {EPOCHS} "
        f"epochs, median of {REPEATS} interleaved repeats (goal >= 4x)", "input",
        ("ImageDataGenerator.flow_from_directory", course_rate),
        ("visionpipe tf.data (decode once, uint8 cache, affine augmentation)", our_rate),
    ) + resampling_benchmark(files, transform)


def side_by_side(title: str, kind: str, baseline: tuple, ours: tuple) -> list[str]:
    """A Markdown table of two (name, images-per-second function) measured in interleaved repeats."""
    rates = [(baseline[1](), ours[1]()) for _ in range(REPEATS)]
    base_rate = float(np.median([b for b, _ in rates]))
    our_rate = float(np.median([o for _, o in rates]))
    return [f"### {title}", "", f"| {kind} | images/s | ratio |", "|---|---|---|",
            f"| {baseline[0]} | {base_rate:,.0f} | 1.00x |",
            f"| {ours[0]} | {our_rate:,.0f} | {our_rate / base_rate:.2f}x |", ""]


def resampling_benchmark(files: list[str], transform: tft.TFTransformOutput) -> list[str]:
    """The augmentation's resampling alone: TensorFlow's kernel vs the OpenCV warp it uses."""
    cached = input_pipeline.decoded_images(files, transform).evaluation
    batches = cached.batch(32).map(lambda pixels, _: pixels).cache()

    def tensorflow_kernel(images: tf.Tensor) -> tf.Tensor:
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms_for(images), output_shape=tf.shape(images)[1:3],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")

    def transforms_for(images: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(images)
        return affine_transforms(COURSE_AUGMENTATION, shape[0], shape[1], shape[2])

    def rate(warp) -> float:
        dataset = batches.map(lambda images: (warp(images), 0), num_parallel_calls=AUTOTUNE)
        images_per_second(dataset, 1)  # fills the cache, traces the map
        return images_per_second(dataset, EPOCHS)

    def opencv(images: tf.Tensor) -> tf.Tensor:
        return affine_warp(images, transforms_for(images))

    return side_by_side(
        f"The augmentation's resampling alone (cached uint8 {SIZE} px, batches of 32, median of "
        f"{REPEATS} interleaved repeats)", "bilinear affine warp, 'nearest' fill",
        ("tf.raw_ops.ImageProjectiveTransformV3", lambda: rate(tensorflow_kernel)),
        ("OpenCV warpAffine in the tf.data map (visionpipe)", lambda: rate(opencv)),
    )


def training_benchmark(work: Path) -> list[str]:
    files, transform = artifacts(work / "photos")
    cached = input_pipeline.decoded_images(files, transform).evaluation
    pixels = np.stack([p.numpy() for p, _ in cached])
    labels = np.array([int(label) for _, label in cached])
    in_memory = pixels.astype(np.float32) / 255.0
    lines = ["### Training throughput: the input pipeline vs plain fit on an in-memory tensor "
             f"(goal >= 0.9x; {len(labels)} images at {SIZE} px; after a warm-up epoch, the median "
             f"of {REPEATS} interleaved epochs each)", "",
             "| module | in-memory fit img/s | visionpipe input img/s | ratio |",
             "|---|---|---|---|"]
    modules = {"scratch": {}, "augmented": {}, "multiclass": {},
               "transfer": {"base": "mobilenet_v2", "alpha": 0.35, "weights": "none"}}
    for name, extra in modules.items():
        config = resolve_defaults(TrainingConfig(model=name, **extra))
        image = ImageSpec.square(SIZE)
        augment = (functools.partial(augment_batch, config=config.augmentation)
                   if name in ("augmented", "multiclass") else None)

        def timed_epoch(model, data, **kwargs):
            started = time.perf_counter()
            model.fit(data, epochs=1, verbose=0, **kwargs)
            return len(labels) / (time.perf_counter() - started)

        plain_model, our_model = build_model(config, image, 2), build_model(config, image, 2)
        our_data = input_pipeline.training_batches(cached, 32, augment=augment)
        timed_epoch(plain_model, in_memory, y=labels, batch_size=32)  # tracing and warm-up
        timed_epoch(our_model, our_data)
        rates = [(timed_epoch(plain_model, in_memory, y=labels, batch_size=32),
                  timed_epoch(our_model, our_data)) for _ in range(REPEATS)]
        plain = float(np.median([p for p, _ in rates]))
        ours = float(np.median([o for _, o in rates]))
        lines.append(f"| {name}{' (augmenting)' if augment else ''} | {plain:,.0f} | {ours:,.0f} "
                     f"| {ours / plain:.2f}x |")
        print(lines[-1], flush=True)
    return lines + [""]


def accuracy_benchmark(work: Path) -> list[str]:
    epochs = "15"
    common = ["--output", str(work / "acc"), "--epochs", epochs, "--patience", "5",
              "--min-accuracy", "0", "--min-class-recall", "0"]
    transfer = ["--model", "transfer", "--base", "mobilenet_v2", "--alpha", "0.35",
                "--weights", str(WEIGHTS), "--image-size", "224"]
    runs = {
        ("rps_28px", "scratch"): ["--data", str(RPS), "--model", "scratch", "--image-size", "28"],
        ("rps_28px", "augmented"): ["--data", str(RPS), "--model", "augmented",
                                    "--image-size", "28"],
        ("rps_28px", "multiclass"): ["--data", str(RPS), "--model", "multiclass",
                                     "--image-size", "28"],
        ("rps_28px", "transfer (MobileNetV2 0.35, ImageNet, 224 px)"): ["--data", str(RPS),
                                                                         *transfer],
        ("sign_mnist_sample", "scratch"): ["--data", str(SIGN), "--data-format", "csv",
                                           "--model", "scratch"],
        ("sign_mnist_sample", "augmented"): ["--data", str(SIGN), "--data-format", "csv",
                                             "--model", "augmented", "--no-horizontal-flip"],
        ("sign_mnist_sample", "multiclass"): ["--data", str(SIGN), "--data-format", "csv",
                                              "--model", "multiclass", "--no-horizontal-flip"],
        ("sign_mnist_sample", "transfer (MobileNetV2 0.35, ImageNet, 224 px)"): [
            "--data", str(SIGN), "--data-format", "csv", *transfer],
    }
    lines = [f"### Accuracy on real data through the whole pipeline (at most {epochs} epochs, "
             "early stopping patience 5)", "",
             "| data | module | eval accuracy | epochs run | pipeline wall time (s) |",
             "|---|---|---|---|---|"]
    for index, ((data, module), args) in enumerate(runs.items()):
        wall, summary = cli(*common, "--name", f"acc{index}", *args)
        history_file = Path(summary.get("model_run", "/nonexistent")) / "history.json"
        epochs_run = len(json.loads(history_file.read_text())["loss"]) if history_file.exists() else "-"
        accuracy = summary.get("metrics", {}).get(summary.get("blessed_on", "test"), {}).get(
            "accuracy", summary.get("error", "failed"))
        lines.append(f"| {data} | {module} | {accuracy} | {epochs_run} | {wall:.0f} |")
        print(lines[-1], flush=True)
    return lines + ["", "rps_28px: the full `rps` set (train) against `rps-test-set` (eval), "
                    "28x28 RGBA PNGs. sign_mnist_sample: 3,586 rows of the official test CSV, "
                    "hash-split 80/20 (near-duplicate rows leak across the split, see "
                    "../shared/README.md). The course's figures: RPS 95.4 % validation from "
                    "scratch at 150 px; sign MNIST > 95 %.", ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    report_option(parser)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="visionpipe-trainer-bench-"))
    photos = photo_sized(work / "photo-data", 1000)
    lines = ["## Trainer (issues 3 and 8)", "",
             f"Machine: {os.cpu_count()} cores, CPU only; measured {time.strftime('%Y-%m-%d')} by "
             "`bench/trainer_benchmarks.py`, all rows in one run. Photo-sized data: 1,000 "
             "generated 500x375 JPEGs, 2 classes.", ""]
    lines += input_benchmark(photos, work)
    print("\n".join(lines), flush=True)
    lines += training_benchmark(work)
    if not args.skip_accuracy and RPS.exists() and SIGN.exists() and WEIGHTS.exists():
        lines += accuracy_benchmark(work)
    finish(lines, args.report, work)


if __name__ == "__main__":
    main()
