"""The figures that explain a run, drawn with matplotlib into PNG files (any filesystem gfile knows).

training_curves, feature_maps (the course's intermediate-outputs model), confusion_plot
(counts and row-normalised), mistakes_grid, grad_cam_figure. What is drawn on which split:
training.py (the Trainer: validation) and verdict.py (the Evaluator: the blessing split).
"""

from __future__ import annotations

from typing import Any

import cv2
import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from components.insights import grad_cam  # noqa: E402

INSIGHTS_DIR = "insights"
CURVES_FILE = "training_curves.png"
CONFUSION_PNG = "confusion_matrix.png"
CONFUSION_JSON = "confusion_matrix.json"
MISTAKES_FILE = "most_confident_mistakes.png"
FEATURE_MAPS_PREFIX = "feature_maps_"
MAX_CHANNELS = 8
MAX_LAYERS = 12
MAX_MISTAKES = 16


def _save(figure: plt.Figure, path: str) -> str:
    with tf.io.gfile.GFile(path, "wb") as f:
        figure.savefig(f, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return path


def training_curves(history: dict[str, list[float]], path: str,
                    best_epoch: int | None = None) -> str:
    """Accuracy and loss per epoch, training vs validation, side by side; best_epoch (from
    1), the epoch whose weights were kept, marked on both."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("accuracy", "loss"), strict=False):
        for key, label in ((metric, "training"), (f"val_{metric}", "validation")):
            if key in history:
                epochs = range(1, len(history[key]) + 1)
                axis.plot(epochs, history[key], marker="o", markersize=3, label=label)
        if best_epoch:
            axis.axvline(best_epoch, color="grey", linestyle="--", linewidth=1,
                         label=f"best epoch ({best_epoch}), kept")
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.legend()
        axis.grid(alpha=0.3)
    return _save(figure, path)


def _feature_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Conv and pooling layers, the model's own or (for a transfer base) evenly chosen from the base."""
    kinds = (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    layers = [layer for layer in model.layers if isinstance(layer, kinds)]
    if layers:
        return layers[:MAX_LAYERS]
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    inner = [layer for base in nested for layer in base.layers if isinstance(layer, kinds)]
    if len(inner) <= MAX_LAYERS:
        return inner
    step = len(inner) / MAX_LAYERS
    return [inner[int(i * step)] for i in range(MAX_LAYERS - 1)] + [inner[-1]]


def _activation_model(model: keras.Model, layers: list[keras.layers.Layer]):
    """A callable: images -> each layer's outputs, through an intermediate-outputs model."""
    if all(layer in model.layers for layer in layers):
        probe = keras.Model(model.inputs, [layer.output for layer in layers])
        return lambda images: probe(images, training=False)
    # Layers inside a nested base: probe the base on what the outer model feeds it, the
    # output of the layer before it (the models here are a straight line of layers).
    index, base = next((i, layer) for i, layer in enumerate(model.layers)
                       if isinstance(layer, keras.Model))
    feed = keras.Model(model.inputs, model.layers[index - 1].output)
    probe = keras.Model(base.inputs, [layer.output for layer in layers])
    return lambda images: probe(feed(images, training=False), training=False)


CELL = 72  # pixels per image or channel in the feature-map mosaic
_GAP = 4  # white pixels between cells


def _channel_cell(channel: np.ndarray) -> np.ndarray:
    """A 2-D activation -> an RGB uint8 cell: standardised, clipped at about 2 standard
    deviations, stretched to its own range and coloured with viridis."""
    spread = channel.std()
    normalised = (channel - channel.mean()) / spread if spread > 0 else channel * 0
    clipped = np.clip(normalised * 64 + 128, 0, 255)
    low, high = clipped.min(), clipped.max()
    scaled = (clipped - low) / (high - low) if high > low else np.zeros_like(clipped)
    coloured = (matplotlib.colormaps["viridis"](scaled)[..., :3] * 255).astype(np.uint8)
    return cv2.resize(coloured, (CELL, CELL), interpolation=cv2.INTER_NEAREST)


def _image_cell(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] (1 or 3+ channels) -> an RGB uint8 cell."""
    return cv2.resize((grad_cam.as_rgb(image) * 255).clip(0, 255).astype(np.uint8), (CELL, CELL),
                      interpolation=cv2.INTER_AREA)


FEATURE_MAP_BATCH = 16  # images per pass through the intermediate-outputs model


def feature_maps(model: keras.Model, images: np.ndarray, titles: list[str],
                 paths: list[str]) -> list[str]:
    """For each image (float [n, h, w, c] in [0, 1]), one figure at its path: one row per
    conv/pooling layer, the image, then the first channels of that layer's output.

    The intermediate-outputs model is built once for all the images. Each figure is one
    mosaic in one axes, drawn by hand: a grid of a hundred matplotlib axes per figure was
    most of the report's time on many classes.
    """
    layers = _feature_layers(model)
    activations = _activation_model(model, layers)
    written = []
    for start in range(0, len(images), FEATURE_MAP_BATCH):
        batch = images[start:start + FEATURE_MAP_BATCH]
        outputs = activations(batch)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        outputs = [np.asarray(output) for output in outputs]
        for offset, image in enumerate(batch):
            written.append(_feature_mosaic(layers, image, [output[offset] for output in outputs],
                                           titles[start + offset], paths[start + offset]))
    return written


def _feature_mosaic(layers: list[keras.layers.Layer], image: np.ndarray,
                    outputs: list[np.ndarray], title: str, path: str) -> str:
    """The figure of one image: its layers' outputs ([h, w, channels] each), a row per layer."""
    columns, step = MAX_CHANNELS + 1, CELL + _GAP
    mosaic = np.full((len(layers) * step - _GAP, columns * step - _GAP, 3), 255, np.uint8)
    picture = _image_cell(image)
    for row, maps in enumerate(outputs):
        cells = [picture] + [_channel_cell(maps[..., c])
                             for c in range(min(MAX_CHANNELS, maps.shape[-1]))]
        for column, cell in enumerate(cells):
            mosaic[row * step:row * step + CELL, column * step:column * step + CELL] = cell
    figure, axis = plt.subplots(figsize=(1.3 * columns, 1.3 * len(layers)))
    axis.imshow(mosaic)
    axis.set_yticks([row * step + CELL / 2 for row in range(len(layers))],
                    [layer.name for layer in layers], fontsize=8)
    axis.set_xticks([])
    for side in axis.spines.values():
        side.set_visible(False)
    axis.set_title(title)
    return _save(figure, path)


def confusion_plot(result: dict[str, Any], path: str, split: str) -> str:
    """The confusion matrix as two labelled heat maps: counts, and each true class's row
    normalised to 1 (where a rare class's mistakes show as clearly as a common one's)."""
    names = result["class_names"]
    size = max(4.0, 0.45 * len(names) + 2)
    figure, axes = plt.subplots(1, 2, figsize=(2 * size, size))
    for axis, key, title, fmt in ((axes[0], "matrix", "counts", "{:d}"),
                                  (axes[1], "row_normalised", "each true class's share", "{:.2f}")):
        matrix = np.array(result[key])
        axis.imshow(matrix, cmap="Blues", vmin=0)
        axis.set_xticks(range(len(names)), names, rotation=90 if len(names) > 6 else 0)
        axis.set_yticks(range(len(names)), names)
        axis.set_xlabel("predicted")
        if key == "matrix":
            axis.set_ylabel("true")
        if len(names) <= 30:
            for (i, j), value in np.ndenumerate(matrix):
                axis.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7,
                          color="white" if value > matrix.max() / 2 else "black")
        axis.set_title(title)
    figure.suptitle(f"{split} split: accuracy {result['accuracy']:.3f}, "
                    f"{int(np.sum(result['matrix'])):,} images")
    figure.tight_layout()
    return _save(figure, path)


def image_grid(images: list[np.ndarray], captions: list[str], path: str,
               empty_note: str = "nothing to show", columns: int = 4) -> str:
    """A grid of images with a caption each; empty_note when there are none."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, caption in zip(axes.flat, images, captions, strict=False):
        axis.imshow(np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None)
        axis.set_title(caption, fontsize=8)
    if not images:
        axes[0, 0].text(0, 0.5, empty_note, fontsize=12)
    return _save(figure, path)


def mistakes_grid(images: list[np.ndarray], captions: list[str], path: str) -> str:
    """A grid of images with captions (true -> predicted, confidence); a note when there are none."""
    return image_grid(images, captions, path, "no mistakes")


def safe_name(name: str) -> str:
    """A class name as it can stand in a file name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def grad_cam_figure(shown: list[tuple[np.ndarray, int, int, float]], heat: np.ndarray,
                    class_names: list[str], title: str, path: str) -> str:
    """Grad-CAM overlays of (uint8 image, true id, predicted id, confidence) under their heat
    ([n, h, w], for the predicted class)."""
    figure, axes = plt.subplots(1, len(shown), figsize=(2.4 * len(shown), 2.8), squeeze=False)
    for axis, found, (image, true, guess, p) in zip(axes[0], heat, shown, strict=True):
        axis.imshow(grad_cam.overlay(image.astype(np.float32) / 255.0, found))
        axis.set_title(f"{'correct' if true == guess else 'mistaken'}: {class_names[guess]} "
                       f"({p:.2f})", fontsize=8, color="black" if true == guess else "red")
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title)
    return _save(figure, path)
