"""DataReview: the data problems found before they cost a training run.

After the ExampleGen and before the Trainer: every image of every split through the
pretrained base (embeddings.py), then the likely label errors, outliers and near-copies in
that space (review.py), written to label_issues.json with their pictures, and the pictures
of the image issues the ExampleGen measured (gallery.py). Without pretrained weights (offline
with `--weights imagenet`, or `--weights none`) or with `--no-label-issues`, it says why in
label_issues.json and draws the image issues only: it never stops the run.
"""


import json
import logging
import os
from typing import Any

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact_utils

from components.common import features
from components.common.image_spec import ImageSpec
from components.data_review import embeddings, gallery, review
from components.trainer.hparams import TrainingConfig

ENABLED_KEY = "label_issues"  # in the review's config: look for label issues at all
THUMBNAIL_SIDE = 160  # pixels of the gallery's pictures

_RECORD = {features.IMAGE_BYTES: tf.io.FixedLenFeature([], tf.string),
           features.LABEL: tf.io.FixedLenFeature([], tf.int64),
           features.RELATIVE_PATH: tf.io.FixedLenFeature([], tf.string)}


def review_config(training: TrainingConfig, image: ImageSpec, enabled: bool) -> str:
    """The component's one parameter: the base's settings, the image size, on or off."""
    return json.dumps({**training.to_custom_config(), **image.to_custom_config(),
                       ENABLED_KEY: enabled}, sort_keys=True)


def _split_records(examples, split: str) -> tf.data.Dataset:
    files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*"))
    return tf.data.TFRecordDataset(files, compression_type="GZIP").map(
        lambda record: tf.io.parse_single_example(record, _RECORD))


def _thumbnail(data: bytes) -> np.ndarray:
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    scale = THUMBNAIL_SIDE / max(int(image.shape[0]), int(image.shape[1]), 1)
    if scale < 1:
        image = tf.image.resize(image, [max(1, round(image.shape[0] * scale)),
                                        max(1, round(image.shape[1] * scale))], antialias=True)
    return tf.cast(image, tf.uint8).numpy()


def _features(examples, splits: list[str], training: TrainingConfig, image: ImageSpec):
    """(features, labels, paths, split of each) of every Example."""
    model = embeddings.feature_model(training, image)
    parts = []
    for split in splits:
        records = _split_records(examples, split).map(lambda r: {
            embeddings.IMAGE: r[features.IMAGE_BYTES], embeddings.LABEL: r[features.LABEL],
            "path": r[features.RELATIVE_PATH]})
        found, columns = embeddings.pooled_features(records, model, image)
        logging.info("DataReview: features of %d %s images", len(found), split)
        parts.append((found, columns, split))
    found = np.concatenate([p[0] for p in parts if len(p[0])] or [np.zeros((0, 1), np.float32)])
    labels = np.concatenate([p[1][embeddings.LABEL] for p in parts if len(p[0])] or [[]]).astype(int)
    paths = [path.decode() for p in parts if len(p[0]) for path in p[1]["path"]]
    split_of = [p[2] for p in parts for _ in range(len(p[0]))]
    return found, labels, paths, split_of


def run_review(examples, output_uri: str, config: dict[str, Any]) -> dict[str, Any]:
    """Reviews the Examples into output_uri (label_issues.json, insights/); returns the
    findings."""
    training = TrainingConfig.from_custom_config(config)
    image = ImageSpec.from_custom_config(config)
    class_names = json.loads(examples.get_string_custom_property(
        features.CLASS_NAMES_PROPERTY) or "[]")
    splits = artifact_utils.decode_split_names(examples.split_names)
    problem = (None if config.get(ENABLED_KEY, True) else "--no-label-issues") or \
        embeddings.weights_problem(training, image)
    if problem:
        found = review.not_reviewed(problem)
    else:
        vectors, labels, paths, split_of = _features(examples, splits, training, image)
        found = review.review(vectors, labels, class_names, paths, split_of,
                              embeddings.describe(training, image))
    tf.io.gfile.makedirs(output_uri)  # a local root on Vertex's contract has no folder yet
    with tf.io.gfile.GFile(os.path.join(output_uri, review.REPORT_FILE), "w") as f:
        f.write(json.dumps(found, indent=2))
    issues_path = os.path.join(examples.uri, features.IMAGE_ISSUES_FILE)
    image_issues = {}
    if tf.io.gfile.exists(issues_path):
        with tf.io.gfile.GFile(issues_path) as f:
            image_issues = json.load(f).get("image_issues", {})
    wanted = gallery.shown_paths(found, image_issues)
    pixels: dict[str, np.ndarray] = {}
    for split in splits if wanted else []:
        for record in _split_records(examples, split):
            path = record[features.RELATIVE_PATH].numpy().decode()
            if path in wanted:
                pixels[path] = _thumbnail(record[features.IMAGE_BYTES].numpy())
    gallery.draw(found, image_issues, pixels.get, output_uri)
    for line in review.lines(found):
        logging.info("DataReview: %s", line)
    return found


@tfx.dsl.components.component
def DataReview(  # noqa: N802 - TFX components are named like classes
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    data_review: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    config: tfx.dsl.components.Parameter[str],
) -> None:
    """Likely label errors, outliers and near-copies in the pretrained base's feature space,
    and the pictures of every finding (this module's doc)."""
    run_review(examples, data_review.uri, json.loads(config))
