"""The serialized tf.train.Example of one validated image: its encoded bytes, label, what
validation found, and its measures (features.MEASURE_FEATURES, for statistics and drift).

Encoded by hand, as protobuf's wire format defines the Example, Features and Feature
messages: through the protobuf API the Example's thirteen features cost about 35 us an
image (map insertions, nested messages), holding the GIL on the ExampleGen's hot path where
the decode pool needs it; here the entries that repeat (label, sizes, format) are encoded
once and looked up, and the path's and the image's are built around their lengths, the
image's bytes joined in once. A Features message is a map, on the wire a repeated field of
(key, Feature) entries in any order, so the joined entries are one valid Example;
tests/test_chunk_arrays.py parses them back and compares them with the Example the API
builds.
"""

from __future__ import annotations

import functools
import struct

import tensorflow as tf

from components.common import features
from components.image_example_gen.image_measures import Measures
from components.image_example_gen.validation import ImageInfo

# Tags of the length-delimited fields (field number << 3 | wire type 2)
_FIELD_1 = b"\x0a"  # Example.features, Features.feature, entry.key, Feature.bytes_list, ...
_FIELD_2 = b"\x12"  # entry.value, Feature.float_list
_FIELD_3 = b"\x1a"  # Feature.int64_list
_FLOAT_FEATURE = b"\x12\x08\x12\x06\x0a\x04"  # entry.value: Feature{float_list{value: 1 float}}
_FLOAT_PACKING = struct.Struct("<f")  # a float32, little-endian, as protobuf writes one


def _encoded_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # a negative int64 is written as its 64-bit two's complement
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_VARINTS = tuple(_encoded_varint(value) for value in range(1 << 14))  # 1 and 2 bytes


def _varint(value: int) -> bytes:
    return _SMALL_VARINTS[value] if 0 <= value < 1 << 14 else _encoded_varint(value)


def _delimited(tag: bytes, value: bytes) -> bytes:
    return tag + _varint(len(value)) + value


@functools.cache
def _key_field(key: str) -> bytes:
    return _delimited(_FIELD_1, key.encode())


def _bytes_head(key: str, length: int) -> bytes:
    """key's Features entry holding one bytes value of length, up to the value itself: the
    lengths are known before the value, so the value is joined in once."""
    value = _FIELD_1 + _varint(length)  # BytesList.value's tag and length
    list_length = len(value) + length
    bytes_list = _FIELD_1 + _varint(list_length)  # Feature.bytes_list's
    entry = b"".join((_key_field(key), _FIELD_2, _varint(len(bytes_list) + list_length),
                      bytes_list, value))
    return _FIELD_1 + _varint(len(entry) + length) + entry


@functools.cache
def _bytes_entry(key: str, value: bytes) -> bytes:
    """A whole bytes entry, for the values that repeat (class names, formats)."""
    return _bytes_head(key, len(value)) + value


@functools.cache
def _int64_entry(key: str, value: int) -> bytes:
    feature = _delimited(_FIELD_3, _delimited(_FIELD_1, _varint(value)))  # packed, as proto3
    return _delimited(_FIELD_1, _key_field(key) + _delimited(_FIELD_2, feature))


def _float_entry_head(key: str) -> bytes:
    """A Features map entry for key up to its one float's four bytes."""
    entry = _key_field(key) + _FLOAT_FEATURE
    return _FIELD_1 + _varint(len(entry) + 4) + entry


_MEASURE_HEADS = tuple(_float_entry_head(key) for key in features.MEASURE_FEATURES)


def serialized_example(relative_path: str, class_name: str, label: int, data: bytes,
                       info: ImageInfo, measures: Measures) -> bytes:
    """The serialized tf.train.Example of one validated image (the module doc)."""
    path = relative_path.encode()
    parts = [_bytes_head(features.IMAGE_BYTES, len(data)), data,
             _bytes_head(features.RELATIVE_PATH, len(path)), path,
             _bytes_entry(features.LABEL_NAME, class_name.encode()),
             _bytes_entry(features.FORMAT, info.format.encode()),
             _int64_entry(features.LABEL, label), _int64_entry(features.HEIGHT, info.height),
             _int64_entry(features.WIDTH, info.width),
             _int64_entry(features.CHANNELS, info.channels)]
    values = measures.features()
    if values:
        parts += [head + _FLOAT_PACKING.pack(values[key]) for head, key in zip(
            _MEASURE_HEADS, features.MEASURE_FEATURES, strict=True)]
    return b"".join([_FIELD_1, _varint(sum(map(len, parts))), *parts])


def image_example(relative_path: str, class_name: str, label: int, data: bytes,
                  info: ImageInfo, measures: Measures) -> tf.train.Example:
    """serialized_example, parsed (for tests and tools that look at one)."""
    return tf.train.Example.FromString(
        serialized_example(relative_path, class_name, label, data, info, measures))
