"""The course's week-3 transfer learning: a pretrained base, frozen, with a new head.

Bases (`--base`): InceptionV3 cut at `mixed7` with the course's head (Flatten ->
Dense 1024 -> Dropout 0.2 -> output), or MobileNetV2 / EfficientNetB0 with a
global-pooling head. Weights (`--weights`): `imagenet` (Keras downloads and caches
them; needs the internet), a local weights file, or `none` (random initialisation).

The model takes the transform graph's [0, 1] images and applies the base's own
`preprocess_input` inside the graph, so the exported signature still takes raw bytes.
The base is always called with training=False: its batch-norm layers stay in
inference mode, also when the top layers are unfrozen for fine-tuning.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf
import tf_keras as keras

from components.common.image_spec import ImageSpec
from components.trainer import catalog
from components.trainer.hparams import TrainingConfig
from components.trainer.models.classifier import compile_classifier, output_layer, split_after

BASE_LAYER = "base"


class WeightsMismatch(ValueError):
    """A weights file that does not fit the chosen base; the message names both."""


@dataclasses.dataclass(frozen=True)
class Base:
    """A Keras application usable as a frozen feature extractor."""

    application: Callable[..., keras.Model]
    preprocess_input: Callable[[tf.Tensor], tf.Tensor]
    cut_layer: str | None  # None: the whole base (include_top=False)
    pooled_head: bool  # global average pooling head, else the course's Flatten + Dense 1024
    min_size: int


BASES: dict[str, Base] = {
    "inception_v3": Base(keras.applications.InceptionV3,
                         keras.applications.inception_v3.preprocess_input, "mixed7", False, 75),
    "mobilenet_v2": Base(keras.applications.MobileNetV2,
                         keras.applications.mobilenet_v2.preprocess_input, None, True, 32),
    "efficientnet_b0": Base(keras.applications.EfficientNetB0,
                            keras.applications.efficientnet.preprocess_input, None, True, 32),
}
assert set(BASES) == set(catalog.BASES), "transfer.BASES and the catalog must name the same bases"
MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
DROPOUT = 0.2


def is_pretrained(config: TrainingConfig) -> bool:
    """Whether the base starts from trained weights (imagenet or a file), not at random."""
    return config.weights.lower() != "none"


def _application_kwargs(name: str, config: TrainingConfig, image: ImageSpec) -> dict:
    kwargs = {"include_top": False, "input_shape": (image.height, image.width, 3)}
    if name == "mobilenet_v2":
        if config.alpha not in MOBILENET_V2_ALPHAS:
            raise ValueError(f"--alpha {config.alpha}: MobileNetV2 offers {MOBILENET_V2_ALPHAS}")
        kwargs["alpha"] = config.alpha
    return kwargs


def _describe(name: str, config: TrainingConfig, image: ImageSpec) -> str:
    alpha = f", alpha {config.alpha}" if name == "mobilenet_v2" else ""
    return f"{name}{alpha}, input {image.height}x{image.width}x3, no top"


def pretrained_base(config: TrainingConfig, image: ImageSpec) -> keras.Model:
    """The base named in config, with its weights loaded and cut where asked; not yet frozen."""
    if config.base not in BASES:
        raise ValueError(f"unknown base {config.base!r}; choose one of {sorted(BASES)}")
    spec = BASES[config.base]
    if min(image.height, image.width) < spec.min_size:
        raise ValueError(f"{config.base} needs images of at least {spec.min_size} px "
                         f"(--image-size), got {image.height}x{image.width}")
    kwargs = _application_kwargs(config.base, config, image)
    weights = config.weights
    if weights.lower() in ("imagenet", "none"):
        base = spec.application(weights=None if weights.lower() == "none" else "imagenet",
                                **kwargs)
    else:
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"--weights {weights}: no such file")
        base = spec.application(weights=None, **kwargs)
        try:
            base.load_weights(weights)
        except (ValueError, KeyError) as error:
            first_line = str(error).strip().splitlines()[0][:300]
            raise WeightsMismatch(
                f"weights file {weights} does not fit the base {_describe(config.base, config, image)} "
                f"(a different base, alpha or input shape?): {first_line}"
            ) from None
    cut = config.cut_layer or spec.cut_layer
    if cut:
        try:
            output = base.get_layer(cut).output
        except ValueError:
            raise ValueError(f"{config.base} has no layer {cut!r} to cut at") from None
        base = keras.Model(base.input, output, name=BASE_LAYER)
    else:
        base._name = BASE_LAYER  # noqa: SLF001 - Keras has no public rename
    return base


@keras.saving.register_keras_serializable(package="visionpipe")
class PreprocessInput(keras.layers.Layer):
    """The base's own preprocess_input, as a layer of the model (so of the serving graph).

    The transform graph gives [0, 1]; every base's preprocess_input expects [0, 255].
    A layer (not a Lambda) so that it saves with a plain config: the base's name.
    """

    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        self.base = base

    def call(self, images: tf.Tensor) -> tf.Tensor:
        return BASES[self.base].preprocess_input(images * 255.0)

    def get_config(self) -> dict:
        return {**super().get_config(), "base": self.base}


@keras.saving.register_keras_serializable(package="visionpipe")
class GreyToRgb(keras.layers.Layer):
    """Grey images repeated to the three channels a pretrained base takes (a layer, not a
    Lambda, so that the saved model loads back as a Keras model)."""

    def call(self, images: tf.Tensor) -> tf.Tensor:
        return tf.image.grayscale_to_rgb(images)


def build(config: TrainingConfig, image: ImageSpec, num_classes: int) -> keras.Model:
    """Frozen pretrained base + new head, compiled; grey images are repeated to 3 channels."""
    spec = BASES.get(config.base)
    base = pretrained_base(config, image)
    base.trainable = False
    images = keras.Input(shape=image.shape, name="image")
    x = images
    if image.channels == 1:
        x = GreyToRgb(name="grey_to_rgb")(x)
    x = PreprocessInput(config.base, name="preprocess_input")(x)
    x = base(x, training=False)
    if spec.pooled_head:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(1024, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    model = keras.Model(images, output_layer(num_classes)(x), name=f"transfer_{config.base}")
    return compile_classifier(model, config, num_classes)


def layers_to_unfreeze(base: keras.Model, fine_tune_layers: float) -> int:
    """N layers, or a fraction of the base's layers when 0 < value < 1."""
    if 0 < fine_tune_layers < 1:
        return max(1, round(fine_tune_layers * len(base.layers)))
    return min(int(fine_tune_layers), len(base.layers))


def fine_tune(model: keras.Model, config: TrainingConfig, num_classes: int) -> keras.Model:
    """Unfreezes the top layers of the base (batch norm stays frozen) and recompiles at a low rate."""
    base = model.get_layer(BASE_LAYER)
    count = layers_to_unfreeze(base, config.fine_tune_layers)
    base.trainable = True
    for index, layer in enumerate(base.layers):
        top = index >= len(base.layers) - count
        layer.trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
    return compile_classifier(model, config, num_classes, learning_rate=config.fine_tune_learning_rate)


def _frozen_boundary(base: keras.Model, count: int) -> int | None:
    """The highest layer index below the top `count` layers whose output is the only tensor
    any layer above it reads (a block boundary: no residual crosses it); None if only the
    input is."""
    names = [layer.name for layer in base.layers]
    position = {name: i for i, name in enumerate(names)}
    lowest_read = [min((position[inbound[0]] for node in entry["inbound_nodes"]
                        for inbound in node), default=i)
                   for i, entry in enumerate(base.get_config()["layers"])]
    top = len(names) - count
    reads_from = len(names)  # the lowest layer any layer above the candidate reads
    for candidate in range(len(names) - 1, 0, -1):
        reads_from = min(reads_from, lowest_read[candidate + 1] if candidate + 1 < len(names)
                         else len(names))
        if candidate < top and reads_from >= candidate:
            return candidate
    return None


class BelowTop(NamedTuple):
    """A model from build() cut below the layers fine-tuning unfreezes; all share its layers."""

    front: keras.Model  # the input through the base's frozen bottom (run once)
    top: keras.Model  # the base's top and its pooling (or flattening), on front's outputs
    head: keras.Model  # the new head, on top's outputs
    back: keras.Model  # top then head: what phase two trains on front's outputs


def split_below_top(model: keras.Model, fine_tune_layers: float) -> BelowTop | None:
    """model split at the highest block boundary of its base below the layers fine-tuning
    unfreezes (the base's layers called with training=False: batch norm in inference
    mode). Training back or head on front's outputs, computed once, trains model. None
    when the only boundary is the input (nothing to compute once)."""
    base = model.get_layer(BASE_LAYER)
    cut = _frozen_boundary(base, layers_to_unfreeze(base, fine_tune_layers))
    if cut is None:
        return None
    boundary = base.layers[cut].output
    below = keras.Model(base.input, boundary, name="base_below")
    base_top = keras.Model(boundary, base.output, name="base_top")
    position = [layer.name for layer in model.layers].index(BASE_LAYER)
    front = keras.Model(model.input, below(model.layers[position - 1].output, training=False),
                        name="front")
    top_input = keras.Input(shape=boundary.shape[1:], name="boundary")
    head_start = _head_start(model)
    top = keras.Model(top_input, model.layers[head_start](base_top(top_input, training=False)),
                      name="top")
    head = split_after(model, head_start)[1]
    back_input = keras.Input(shape=boundary.shape[1:], name="boundary")
    back = keras.Model(back_input, head(top(back_input)), name="back")
    return BelowTop(front, top, head, back)


HEAD_STARTS_AFTER = ("pool", "flatten")  # the weightless layer right after the base


def _head_start(model: keras.Model) -> int:
    names = [layer.name for layer in model.layers]
    return next(names.index(name) for name in HEAD_STARTS_AFTER if name in names)


def split_at_base(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """(features, head) of a model from build(): the input through the frozen base and its
    pooling (or flattening: no weights, and the pooled features are 49x smaller than the
    base's output at 224 px), and the layers after it. The head shares its layers with
    model: training the head on precomputed features trains model's head."""
    return split_after(model, _head_start(model))
