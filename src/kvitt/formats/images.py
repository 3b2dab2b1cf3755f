"""What an uploaded logo is, read from its own bytes (never from its name or a Content-Type the
browser made up): PNG or JPEG, and its width and height in pixels; and the WCAG contrast of a
brand colour against white text.

Sources:
- PNG: W3C, Portable Network Graphics (PNG) Specification (Third Edition), 5.2 (the 8-byte
  signature), 5.3 (chunk layout: length, type, data, CRC-32 over type and data), 11.2.1 (IHDR is
  the first chunk: width, height as 4-byte big-endian, both 1 .. 2^31-1).
- JPEG: ITU-T T.81 (ISO/IEC 10918-1), B.1.1.3 and B.2.2: SOI ``FFD8``, then marker segments
  (``FF xx`` and a 2-byte length that counts itself); a frame header SOFn (``C0``-``CF`` except
  ``C4`` DHT, ``C8`` JPG and ``CC`` DAC) holds precision, height, width (big-endian 2 bytes each).
- Contrast: W3C, WCAG 2.1, 1.4.3 (AA: 4.5:1 for normal text) and the definitions of relative
  luminance and contrast ratio (sRGB channels linearised, L = 0.2126 R + 0.7152 G + 0.0722 B,
  ratio = (L1 + 0.05) / (L2 + 0.05)).

SVG is not read here on purpose: an SVG is a document that may hold scripts and links, and
making it safe means sanitising XML, which this module does not do (see docs/admin.md).

No I/O and no kvitt imports.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
# SOFn markers carry the frame's size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field (TEM, RSTn): skipped as two bytes.
JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
HEX_COLOUR = re.compile(r"#[0-9a-f]{6}")
WHITE = "#ffffff"
AA_NORMAL_TEXT = Decimal("4.5")


class ImageRejected(ValueError):
    """The bytes are not a PNG or JPEG this module can read; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    kind: str  # "png" or "jpeg"
    width: int
    height: int

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


def image_info(data: bytes) -> ImageInfo:
    """The image's kind and size from its header; ImageRejected for anything else (SVG, GIF,
    WebP, text, a truncated or corrupt header)."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(JPEG_SOI):
        return _jpeg(data)
    if _looks_like_svg(data):
        raise ImageRejected("SVG is not accepted (it can carry scripts); upload a PNG or JPEG")
    raise ImageRejected("not a PNG or JPEG image")


def _png(data: bytes) -> ImageInfo:
    # signature (8) + length (4) + "IHDR" (4) + 13 bytes of data + CRC (4)
    if len(data) < 33:
        raise ImageRejected("the PNG ends inside its header")
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        raise ImageRejected("the PNG does not start with its IHDR header")
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(data[12:29]) != crc:
        raise ImageRejected("the PNG header's checksum is wrong (a damaged file)")
    width, height = struct.unpack(">II", data[16:24])
    return ImageInfo("png", *_sized(width, height))


def _jpeg(data: bytes) -> ImageInfo:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ImageRejected("the JPEG's markers are damaged")
        marker = data[at + 1]
        if marker == 0xFF:  # fill bytes before a marker (T.81 B.1.1.2)
            at += 1
            continue
        if marker in JPEG_STANDALONE:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            break
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if length < 2:
            raise ImageRejected("the JPEG's markers are damaged")
        if marker in JPEG_FRAME_MARKERS:
            if at + 9 > len(data) or length < 7:
                raise ImageRejected("the JPEG ends inside its frame header")
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return ImageInfo("jpeg", *_sized(width, height))
        at += 2 + length
    raise ImageRejected("the JPEG has no frame header (no size)")


def _sized(width: int, height: int) -> tuple[int, int]:
    if width < 1 or height < 1:
        raise ImageRejected("the image has no pixels")
    return width, height


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head


def hex_colour(text: str) -> str:
    """``#RRGGBB`` (any case, spaces around) as ``#rrggbb``; ValueError for anything else
    (three-digit forms, names and ``rgb()`` are refused so that one value means one thing)."""
    value = text.strip().lower()
    if not HEX_COLOUR.fullmatch(value):
        raise ValueError("write the colour as #rrggbb, e.g. #0b4f8a")
    return value


def contrast_ratio(first: str, second: str) -> Decimal:
    """WCAG 2.1's contrast ratio of two ``#rrggbb`` colours, 1 .. 21, to two decimals (rounded
    down, so that a colour never passes by rounding)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    ratio = (light + Decimal("0.05")) / (dark + Decimal("0.05"))
    return ratio.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def _luminance(colour: str) -> Decimal:
    red, green, blue = (_linear(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    return Decimal("0.2126") * red + Decimal("0.7152") * green + Decimal("0.0722") * blue


def _linear(channel: int) -> Decimal:
    srgb = Decimal(channel) / 255
    if srgb <= Decimal("0.03928"):
        return srgb / Decimal("12.92")
    return ((srgb + Decimal("0.055")) / Decimal("1.055")) ** Decimal("2.4")
