"""Fuzzing (hypothesis, bounded): bad bytes and bad requests give clear errors, never crashes."""

import json

import pytest
from conftest import image_bytes
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.image_example_gen.validation import InvalidImage, inspect_image
from serving.inference import ServingError
from serving.rest import parse_predict

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = [image_bytes(fmt, seed=i) for i, fmt in enumerate(("JPEG", "PNG", "GIF", "BMP"))]


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_are_rejected_with_a_reason(data):
    try:
        inspect_image(data)
    except InvalidImage as error:
        assert str(error)


@FUZZ
@given(st.sampled_from(VALID), st.integers(0, 10_000), st.binary(min_size=1, max_size=16),
       st.booleans())
def test_damaged_images_are_valid_or_rejected_never_a_crash(original, offset, patch, truncate):
    position = offset % len(original)
    damaged = original[:position] if truncate else (
        original[:position] + patch + original[position + len(patch):])
    try:
        info = inspect_image(damaged)
    except InvalidImage as error:
        assert str(error)
    else:
        assert info.height > 0 and info.width > 0 and info.channels in (1, 2, 3, 4)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=12)


@FUZZ
@given(st.dictionaries(st.sampled_from(["instances", "inputs", "signature_name", "b64", "x"]),
                       JSON_VALUES, max_size=3))
@example({"instances": [{}]})
@example({"instances": [{}, {}]})
def test_any_json_request_parses_or_gets_a_serving_error(body):
    try:
        inputs = parse_predict(json.loads(json.dumps(body)), ["image_bytes"])
    except ServingError as error:
        assert error.code == "INVALID_ARGUMENT" and error.message
    else:
        assert isinstance(inputs, dict) and inputs


@pytest.mark.parametrize("b64", ["!!!", "YWJ", "a", "====", "YW Jj"])
def test_bad_base64_is_a_serving_error(b64):
    with pytest.raises(ServingError, match="base64"):
        parse_predict({"instances": [{"b64": b64}]}, ["image_bytes"])
