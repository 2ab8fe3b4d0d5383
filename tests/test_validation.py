"""Image validation: every accepted format passes with its real size; every broken file says why."""

import pytest
from conftest import image_bytes

from components.image_example_gen.validation import InvalidImage, inspect_image, sniff_format


@pytest.mark.parametrize(
    "fmt, mode, expected_format, expected_channels",
    [
        ("JPEG", "RGB", "jpeg", 3),
        ("JPEG", "L", "jpeg", 1),
        ("PNG", "RGB", "png", 3),
        ("PNG", "RGBA", "png", 4),
        ("PNG", "L", "png", 1),
        ("GIF", "P", "gif", 3),
        ("BMP", "RGB", "bmp", 3),
    ],
)
def test_accepted_formats_report_format_size_and_channels(fmt, mode, expected_format,
                                                          expected_channels):
    info = inspect_image(image_bytes(fmt, mode, size=(40, 30)))
    assert (info.format, info.width, info.height, info.channels) == (
        expected_format, 40, 30, expected_channels)


def test_truncated_jpeg_is_rejected():
    data = image_bytes("JPEG")
    with pytest.raises(InvalidImage, match="corrupt or truncated jpeg"):
        inspect_image(data[: len(data) // 2])


def test_png_with_bad_crc_is_rejected():
    data = bytearray(image_bytes("PNG"))
    data[data.find(b"IDAT") + 10] ^= 0xFF
    with pytest.raises(InvalidImage, match="corrupt or truncated png"):
        inspect_image(bytes(data))


def test_zero_bytes_and_text_are_rejected_with_reasons():
    with pytest.raises(InvalidImage, match="empty file"):
        inspect_image(b"")
    with pytest.raises(InvalidImage, match="not an image"):
        inspect_image(b"just some text, named .jpg")


def test_pixel_cap_rejects_before_decoding():
    with pytest.raises(InvalidImage, match="exceeds the cap"):
        inspect_image(image_bytes("PNG", size=(100, 100)), max_pixels=9_999)


def test_error_messages_are_one_clean_line():
    data = image_bytes("JPEG")
    with pytest.raises(InvalidImage) as error:
        inspect_image(data[:100])
    assert "\n" not in str(error.value) and "function_node" not in str(error.value)


def test_sniff_format_ignores_extension_and_reads_signature():
    assert sniff_format(image_bytes("PNG")) == "png"
    assert sniff_format(b"RIFF....WEBP") is None


def _encode(image, fmt, **kwargs) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_cmyk_jpeg_16_bit_png_and_animated_gif_are_accepted():
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    assert inspect_image(_encode(rgb.convert("CMYK"), "JPEG")).channels in (3, 4)
    deep = Image.fromarray(rng.integers(0, 65535, (20, 30)).astype(np.uint16))
    assert inspect_image(_encode(deep, "PNG")).format == "png"
    frames = [rgb.convert("P"), rgb.rotate(90).convert("P")]
    import io

    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    info = inspect_image(buffer.getvalue())  # the first frame
    assert (info.format, info.height, info.width) == ("gif", 20, 30)


def test_exif_rotated_jpeg_is_stored_upright():
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    from components.image_example_gen.validation import upright

    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :10] = 255  # a white left third
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    data = _encode(Image.fromarray(pixels), "JPEG", exif=exif.tobytes(), quality=95)
    info = inspect_image(data)
    assert info.orientation == 6
    fixed, fixed_info = upright(data, info)
    decoded = tf.io.decode_jpeg(fixed).numpy()
    assert decoded.shape == (30, 20, 3) and (fixed_info.height, fixed_info.width) == (30, 20)
    assert decoded[:10].mean() > 200 and decoded[-10:].mean() < 50  # white is now on top
    plain = _encode(Image.fromarray(pixels), "JPEG")
    assert upright(plain, inspect_image(plain))[0] == plain  # upright files are untouched
