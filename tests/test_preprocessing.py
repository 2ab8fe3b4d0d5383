"""The preprocessing_fn decodes every accepted format to the configured size in [0, 1]."""

import io

import numpy as np
import pytest
import tensorflow as tf
from conftest import image_bytes
from PIL import Image

from components.common import features
from components.common.image_spec import ImageSpec
from components.transform import preprocessing

CONFIG = ImageSpec(24, 32).to_custom_config()


def _solid(colour, fmt, mode="RGB", size=(50, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).convert(mode).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, mode", [("JPEG", "RGB"), ("JPEG", "L"), ("PNG", "RGB"),
                                       ("PNG", "RGBA"), ("GIF", "P"), ("BMP", "RGB")])
def test_each_format_decodes_to_rgb_at_the_configured_size(fmt, mode):
    encoded = _solid((200, 40, 90), fmt, mode)
    out = preprocessing.preprocessing_fn(
        {features.IMAGE_BYTES: tf.constant([[encoded]])}, CONFIG
    )[features.IMAGE].numpy()
    assert out.shape == (1, 24, 32, 3) and out.dtype == np.float32
    decoded = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"), np.float32) / 255
    expected = decoded.mean(axis=(0, 1))  # a GIF palette dithers: compare mean colours
    np.testing.assert_allclose(out[0].mean(axis=(0, 1)), expected, atol=0.02)


def test_mixed_batch_and_label_pass_through():
    batch = tf.constant([[image_bytes("JPEG", size=(80, 60))], [image_bytes("PNG", "RGBA")]])
    out = preprocessing.preprocessing_fn(
        {features.IMAGE_BYTES: batch, features.LABEL: tf.constant([[1], [0]], tf.int64)}, CONFIG
    )
    assert out[features.IMAGE].shape == (2, 24, 32, 3)
    assert 0.0 <= float(tf.reduce_min(out[features.IMAGE])) <= float(
        tf.reduce_max(out[features.IMAGE])) <= 1.0
    assert out[features.LABEL].numpy().tolist() == [1, 0]


def test_serving_inputs_have_no_label():
    out = preprocessing.preprocessing_fn({features.IMAGE_BYTES: tf.constant([[image_bytes()]])},
                                         CONFIG)
    assert set(out) == {features.IMAGE}


def test_one_channel_when_configured():
    config = ImageSpec(24, 32, channels=1).to_custom_config()
    out = preprocessing.preprocessing_fn(
        {features.IMAGE_BYTES: tf.constant([[_solid((255, 255, 255), "PNG")]])}, config
    )[features.IMAGE]
    assert out.shape == (1, 24, 32, 1)
    assert float(tf.reduce_min(out)) == pytest.approx(1.0)


def test_pixels_sit_on_8_bit_levels_so_the_uint8_cache_is_exact():
    out = preprocessing.preprocessing_fn(
        {features.IMAGE_BYTES: tf.constant([[image_bytes(size=(97, 71))]])}, CONFIG
    )[features.IMAGE].numpy()
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-4)


def test_large_jpegs_decode_at_a_reduced_scale_and_match_a_full_decode():
    """A photo decoded at 1/2-1/8 scale by the DCT, then resized, looks like a full decode."""
    import numpy as np

    from pipeline.data_tools.demo import draw_shape, encode

    photo = encode(draw_shape("circle", np.random.default_rng(4), (500, 375)), "JPEG")
    out = preprocessing.preprocessing_fn({features.IMAGE_BYTES: tf.constant([[photo]])},
                                         CONFIG)[features.IMAGE].numpy()[0]
    full = tf.image.resize(tf.image.convert_image_dtype(tf.io.decode_jpeg(photo), tf.float32),
                           [24, 32], antialias=True).numpy()
    assert out.shape == (24, 32, 3)
    assert np.abs(out - full).mean() < 0.02  # same picture; the downsampling path differs
    scaled = preprocessing.decode(tf.constant(photo), 24, 32, 3)
    assert scaled.shape[0] < 375 / 4  # really decoded small (1/8 here: 47 x 63)


def test_a_missing_image_size_is_an_error_naming_it_not_a_silent_default():
    inputs = {features.IMAGE_BYTES: tf.constant([[image_bytes()]])}
    with pytest.raises(KeyError, match="image_spec"):
        preprocessing.preprocessing_fn(inputs, {"image_height": 24})
    with pytest.raises(KeyError, match="channels"):
        preprocessing.preprocessing_fn(inputs, {"image_spec": {"height": 24, "width": 32}})
