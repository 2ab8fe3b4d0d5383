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
