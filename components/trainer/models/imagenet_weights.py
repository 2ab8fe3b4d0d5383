"""Are a transfer base's ImageNet weights here, or can Keras download them? Asked before a run.

Keras downloads `--weights imagenet` when the Trainer builds the base, after ingestion,
statistics and decoding have run; offline, the run then ends with a socket error. This
check names the file Keras would fetch (the file names and URLs are the ones tf_keras
2.16's applications use), looks for it in Keras's cache (~/.keras/models, or
/tmp/.keras/models when the home folder is not writable) and otherwise asks the server
for it, so an offline run stops at once with the two ways out.
"""

from __future__ import annotations

import os

import requests

from components.common.image_spec import ImageSpec
from components.trainer.hparams import TrainingConfig

APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
EFFICIENTNET_URL = "https://storage.googleapis.com/keras-applications/"
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)  # the sizes MobileNetV2 has weights for
PROBE_SECONDS = 5.0


class WeightsUnavailable(ValueError):
    """--weights imagenet on a machine that has them neither cached nor reachable."""


def weights_url(config: TrainingConfig, image: ImageSpec) -> str:
    """The URL tf_keras fetches the no-top ImageNet weights of config.base from."""
    if config.base == "inception_v3":
        return APPLICATIONS_URL + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    if config.base == "mobilenet_v2":
        rows = image.height if image.height == image.width and image.height in MOBILENET_V2_SIZES \
            else 224
        return (APPLICATIONS_URL + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
                f"{float(config.alpha)}_{rows}_no_top.h5")
    if config.base == "efficientnet_b0":
        return EFFICIENTNET_URL + "efficientnetb0_notop.h5"
    raise ValueError(f"unknown base {config.base!r}")


def cached_path(url: str) -> str | None:
    """Where Keras's cache holds the file of url, if it does."""
    name = url.rsplit("/", 1)[1]
    for root in (os.path.expanduser("~/.keras"), "/tmp/.keras"):
        path = os.path.join(root, "models", name)
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            return path
    return None


def reachable(url: str) -> bool:
    """Whether url answers (a HEAD request; proxies from the environment apply)."""
    try:
        return requests.head(url, timeout=PROBE_SECONDS, allow_redirects=True).status_code < 400
    except requests.RequestException:
        return False


def check_weights(config: TrainingConfig, image: ImageSpec, probe=reachable) -> None:
    """Raises WeightsUnavailable, in one line, when `--weights imagenet` cannot be had here."""
    if config.model != "transfer" or config.weights.lower() != "imagenet":
        return
    url = weights_url(config, image)
    if cached_path(url) or probe(url):
        return
    raise WeightsUnavailable(
        f"--weights imagenet: the ImageNet weights of {config.base} are not in Keras's cache "
        f"(~/.keras/models/{url.rsplit('/', 1)[1]}) and {url.split('/')[2]} cannot be reached; "
        "pass --weights FILE (a local weights .h5) or --weights none (random initialisation)")
