"""The verdict's pictures, on the split that decides the blessing (the Evaluator's).

- confusion_matrix.png / .json: counts and each true class's row normalised, with per-class
  precision, recall, F1 and support (components/common/class_metrics.py);
- most_confident_mistakes.png: the images the model got wrong with the highest confidence;
- grad_cam_<class>.png: where the model looked (grad_cam.py), in a few correctly and a few
  wrongly classified images of each class, for the class it predicted.

Streams over the split: what waits in memory is the confusion matrix, the few mistakes
shown and the few images per class for Grad-CAM, whatever the split's size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.common.class_metrics import confusion
from components.insights import figures, grad_cam


def describe_split(model: keras.Model, batches: Iterable[tuple[np.ndarray, np.ndarray]],
                   class_names: list[str], probabilities_of: Callable[[np.ndarray], np.ndarray],
                   output_dir: str, split: str) -> dict[str, Any]:
    """Predicts every batch of (float images in [0, 1], labels), writes the verdict's
    pictures into output_dir and returns the confusion() of the split."""
    tf.io.gfile.makedirs(output_dir)
    labels, predicted = [], []
    looked: dict[int, dict[bool, list]] = {}  # true class -> correct? -> Grad-CAM samples
    mistakes: list[tuple[float, np.ndarray, str]] = []
    for images, truth in batches:
        probabilities = np.asarray(probabilities_of(images))
        guesses = probabilities.argmax(axis=1)
        pixels = (np.asarray(images) * 255).round().astype(np.uint8)
        for image, true, guess, p in zip(pixels, truth, guesses, probabilities, strict=True):
            kept = looked.setdefault(int(true), {True: [], False: []})[bool(guess == true)]
            if len(kept) < grad_cam.PER_CLASS:
                kept.append((image, int(true), int(guess), float(p[guess])))
            if guess != true:
                mistakes.append((float(p[guess]), image,
                                 f"{class_names[true]} -> {class_names[guess]} ({p[guess]:.2f})"))
        mistakes = sorted(mistakes, key=lambda m: -m[0])[:figures.MAX_MISTAKES]
        labels.append(np.asarray(truth))
        predicted.append(guesses)
    result = confusion(np.concatenate(labels or [np.zeros(0, int)]).astype(int),
                       np.concatenate(predicted or [np.zeros(0, int)]), class_names)
    with tf.io.gfile.GFile(os.path.join(output_dir, figures.CONFUSION_JSON), "w") as f:
        json.dump({"split": split, **result}, f, indent=2)
    figures.confusion_plot(result, os.path.join(output_dir, figures.CONFUSION_PNG), split)
    figures.mistakes_grid([m[1] for m in mistakes], [m[2] for m in mistakes],
                          os.path.join(output_dir, figures.MISTAKES_FILE))
    _grad_cam_figures(model, looked, class_names, output_dir, split)
    return result


def _grad_cam_figures(model: keras.Model, looked: dict[int, dict[bool, list]],
                      class_names: list[str], output_dir: str, split: str) -> None:
    """One Grad-CAM pass over every class's shown images, a figure per class."""
    shown = {label_id: kinds[True] + kinds[False] for label_id, kinds in sorted(looked.items())}
    every = [item for items in shown.values() for item in items]
    if not every:
        return
    heat = grad_cam.heatmaps(model, np.stack([image for image, *_ in every]) / np.float32(255),
                             np.array([guess for _, _, guess, _ in every]))
    start = 0
    for label_id, items in shown.items():
        name = class_names[label_id]
        figures.grad_cam_figure(
            items, heat[start:start + len(items)], class_names,
            f"where the model looked: '{name}' {split} images",
            os.path.join(output_dir, f"{grad_cam.GRAD_CAM_PREFIX}{figures.safe_name(name)}.png"))
        start += len(items)
