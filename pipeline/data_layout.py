"""What the input data looks like, found before the pipeline starts, by the data format's source.

The class names are fixed here, once, so that label ids, per-class metrics and the
served vocabulary agree for the whole run.
"""

from __future__ import annotations

from components.image_example_gen.layout import DataError, DataLayout
from components.image_example_gen.sources import source
from pipeline.config import PipelineConfig

__all__ = ["DataError", "DataLayout", "inspect_data"]


def inspect_data(config: PipelineConfig) -> DataLayout:
    """The layout of the run's input; DataError with a one-line reason when it is unusable."""
    try:
        found = source(config.ingest.data_format)
    except ValueError as error:
        raise DataError(str(error)) from None
    return found.discover(config.data, config.validation_data, config.test_data,
                          config.ingest.split_ratio)
