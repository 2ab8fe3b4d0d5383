"""`visionpipe inspect --label-issues`: the pipeline's data review (components/data_review/)
on the files as listed, before any run: the same features, the same findings."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from components.data_review import embeddings, review
from components.image_example_gen import sources
from components.image_example_gen.ingest import Ingested
from components.image_example_gen.validation import upright
from pipeline.config import PipelineConfig


class NoFeatures(ValueError):
    """--label-issues asked for, and no pretrained features can be had here."""


def check(config: PipelineConfig) -> None:
    """NoFeatures, in one line, when the base's pretrained weights cannot be had here."""
    problem = embeddings.weights_problem(config.training, config.image)
    if problem:
        raise NoFeatures(f"--label-issues needs a pretrained base's features: {problem}")


def review_records(config: PipelineConfig, source: sources.Source, input_base: str,
                   records: list[Ingested], roles: list[str], class_names: list[str],
                   image_shape: tuple[int, int, int], progress: bool) -> dict[str, Any]:
    """label_issues.json's content for the readable images (records, in their roles)."""
    image = config.image
    model = embeddings.feature_model(config.training, image)
    label_ids = {name: i for i, name in enumerate(class_names)}

    def images():
        for record in records:
            data = source.read(input_base, record.item, image_shape)
            yield upright(data, record.info)[0], label_ids[record.item.class_name]

    with tqdm(total=len(records), desc="features", unit="image", disable=not progress) as bar:
        found, columns = embeddings.pooled_features(embeddings.encoded_records(images()), model,
                                                    image, on_batch=bar.update)
    labels = columns.get(embeddings.LABEL, [])
    return review.review(found, labels.astype(int) if len(labels) else labels, class_names,
                         [record.item.id for record in records], roles,
                         embeddings.describe(config.training, image))
