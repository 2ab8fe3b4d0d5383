"""StatisticsGen's options: the encoded images are bytes to it, not strings.

TFDV treats a bytes feature without a schema as a categorical string: it sketches the top
values and unique count of every image's whole encoded file, which cost more than the
ExampleGen that read and decoded them (on caltech101's photos, by a fifth of
StatisticsGen's time; BENCHMARKS.md). Marked with an image domain, the feature gets bytes
statistics (sizes) only; the images' numbers are the measures the ExampleGen writes beside
them (features.MEASURE_FEATURES).

The top values and unique counts of the string features (class names, formats, paths) come
from TFDV's sketches (Misra-Gries and KMV, exact below their thousands of buckets), a
combiner like the basic statistics, instead of TFDV's default top-k, a Beam transform of
its own: with every generator a combiner, executor.py computes them all in one combine.
"""

from __future__ import annotations

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from components.common.features import IMAGE_BYTES


def statistics_options() -> tfdv.StatsOptions:
    """StatsOptions whose schema says IMAGE_BYTES is an image (bytes statistics only), with
    sketched top values."""
    schema = schema_pb2.Schema()
    image = schema.feature.add(name=IMAGE_BYTES, type=schema_pb2.BYTES)
    image.image_domain.SetInParent()
    return tfdv.StatsOptions(schema=schema, use_sketch_based_topk_uniques=True)
