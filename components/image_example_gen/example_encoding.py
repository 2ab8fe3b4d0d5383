"""The serialized tf.train.Example of one validated image: its encoded bytes, label, what
validation found, and its measures (features.MEASURE_FEATURES, for statistics and drift).

The measure features are encoded by hand, as protobuf's wire format defines them, and
joined to the rest of the Example's Features message: through the protobuf API each
single-float feature costs a map insertion and a nested message (about 2.5 us, five per
image, on the ExampleGen's hot path), the encoding below a fraction of that. A Features
message is a map, on the wire a repeated field of (key, Feature) entries in any order,
so the joined bytes are one valid Example; tests/test_chunk_arrays.py parses them back
and compares them with the Example the API builds.
"""

from __future__ import annotations

import struct

import tensorflow as tf

from components.common import features
from components.image_example_gen.image_measures import Measures
from components.image_example_gen.validation import ImageInfo

_LENGTH_DELIMITED_1 = b"\x0a"  # field 1, wire type 2: Example.features, Features.feature
_FLOAT_FEATURE = b"\x12\x08\x12\x06\x0a\x04"  # entry.value: Feature{float_list{value: 1 float}}


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _float_entry_head(key: str) -> bytes:
    """A Features map entry for key up to its one float's four bytes."""
    name = key.encode()
    entry = _LENGTH_DELIMITED_1 + _varint(len(name)) + name + _FLOAT_FEATURE
    return _LENGTH_DELIMITED_1 + _varint(len(entry) + 4) + entry


_MEASURE_HEADS = tuple(_float_entry_head(key) for key in features.MEASURE_FEATURES)
_MEASURE_PACKING = struct.Struct("<f")  # a float32, little-endian, as protobuf writes one


def serialized_example(relative_path: str, class_name: str, label: int, data: bytes,
                       info: ImageInfo, measures: Measures) -> bytes:
    """The serialized tf.train.Example of one validated image (the module doc)."""
    example = tf.train.Example()
    feature = example.features.feature  # filled in place: half the time of nested messages
    for key, value in ((features.IMAGE_BYTES, data), (features.LABEL_NAME, class_name.encode()),
                       (features.RELATIVE_PATH, relative_path.encode()),
                       (features.FORMAT, info.format.encode())):
        feature[key].bytes_list.value.append(value)
    for key, value in ((features.LABEL, label), (features.HEIGHT, info.height),
                       (features.WIDTH, info.width), (features.CHANNELS, info.channels)):
        feature[key].int64_list.value.append(value)
    rest = example.features.SerializeToString()
    values = measures.features()
    measured = b"".join(head + _MEASURE_PACKING.pack(values[key]) for head, key in zip(
        _MEASURE_HEADS, features.MEASURE_FEATURES, strict=True)) if values else b""
    return _LENGTH_DELIMITED_1 + _varint(len(rest) + len(measured)) + rest + measured


def image_example(relative_path: str, class_name: str, label: int, data: bytes,
                  info: ImageInfo, measures: Measures) -> tf.train.Example:
    """serialized_example, parsed (for tests and tools that look at one)."""
    return tf.train.Example.FromString(
        serialized_example(relative_path, class_name, label, data, info, measures))
