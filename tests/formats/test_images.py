"""formats.images: a logo's kind and size read from its own bytes, checked against what Pillow
wrote, and WCAG 2.1's contrast ratio against values published by the W3C and WebAIM."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from kvitt.formats.images import ImageRejected, contrast_ratio, hex_colour, image_info


def saved(kind: str, size: tuple[int, int], **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (11, 79, 138)).save(buffer, kind, **options)
    return buffer.getvalue()


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(["PNG", "JPEG"]),
    width=st.integers(1, 700),
    height=st.integers(1, 700),
    progressive=st.booleans(),
)
def test_the_size_is_the_one_the_encoder_wrote(kind: str, width: int, height: int, progressive: bool) -> None:
    options = {"progressive": progressive} if kind == "JPEG" else {}
    info = image_info(saved(kind, (width, height), **options))
    assert (info.kind, info.width, info.height) == (kind.lower(), width, height)
    assert info.media_type == f"image/{kind.lower()}"


def test_a_jpeg_with_exif_before_its_frame_header() -> None:
    exif = Image.Exif()
    exif[0x010E] = "Norrsken" * 40  # ImageDescription: an APP1 segment of some length first
    info = image_info(saved("JPEG", (321, 123), exif=exif.tobytes()))
    assert (info.width, info.height) == (321, 123)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"\xef\xbb\xbf  <?xml version='1.0'?><svg/>", "SVG"),
        (b"GIF89a....", "not a PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "ends inside its header"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "no frame header"),
        (b"\xff\xd8\x00\x00\x00\x00", "damaged"),
        (b"", "not a PNG or JPEG"),
    ],
)
def test_anything_else_is_refused_with_a_reason(data: bytes, says: str) -> None:
    with pytest.raises(ImageRejected, match=says):
        image_info(data)


def test_a_png_whose_header_is_changed_fails_its_checksum() -> None:
    data = bytearray(saved("PNG", (10, 10)))
    data[19] ^= 1  # a bit of the width
    with pytest.raises(ImageRejected, match="checksum"):
        image_info(bytes(data))


@pytest.mark.parametrize(
    ("colour", "ratio"),
    [
        ("#000000", "21.00"),  # WCAG 2.1: the largest ratio
        ("#ffffff", "1.00"),
        ("#767676", "4.54"),  # WebAIM: the lightest grey that passes AA on white
        ("#777777", "4.47"),  # 4.478..., rounded down so it never passes by rounding
        ("#0b4f8a", "8.40"),
    ],
)
def test_contrast_against_white(colour: str, ratio: str) -> None:
    assert contrast_ratio(colour, "#ffffff") == Decimal(ratio) == contrast_ratio("#ffffff", colour)


@pytest.mark.parametrize("text", ["blue", "#abc", "0b4f8a", "#0b4f8a;", "#0b4f8g", "rgb(0,0,0)"])
def test_only_six_hex_digits_are_a_colour(text: str) -> None:
    with pytest.raises(ValueError, match="#rrggbb"):
        hex_colour(text)
    assert hex_colour(" #0B4F8A ") == "#0b4f8a"
