"""QR code matrices with a fixed mask, as segno makes them, at about a third of the cost.

``segno.make_qr(content, error=..., mask=...)`` spends most of its time placing the codewords and
applying the mask module by module, asking for every one of the (up to ~3,000) modules whether it
belongs to the encoding region. For a given version and mask both are the same for every code:
which modules take the message bits, in which order, and which of them the mask inverts. This
module computes that once per (version, mask) and otherwise uses segno's own steps (segments,
version, error level boost, padding, Reed-Solomon, format and version information), so the matrix
is exactly segno's (a test compares them).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from segno import consts as _consts
from segno import encoder

_segno: Any = encoder  # segno's internal steps (untyped)
consts: Any = _consts


def matrix(content: str, *, error: str, mask: int) -> list[bytearray]:
    """The modules of ``segno.make_qr(content, error=error, mask=mask)`` (1 dark, 0 light), no quiet zone.

    Non-ASCII content is encoded as UTF-8, as ``pdf._draw_qr`` asks segno to.
    """
    encoding = None if content.isascii() else "utf-8"
    level = _segno.normalize_errorlevel(error, accept_none=True)
    segments = _segno.prepare_data(content, None, encoding)
    version = _segno.find_version(segments, level, eci=False, micro=False)
    level = _segno.boost_error_level(version, level, segments, False)
    buff = _segno.Buffer()
    ver_range = _segno.version_range(version)
    for segment in segments:
        _segno.write_segment(buff, segment, None, ver_range, False)
    capacity = consts.SYMBOL_CAPACITY[version][level]
    _segno.write_terminator(buff, capacity, None, len(buff))
    _segno.write_padding_bits(buff, version, len(buff))
    _segno.write_pad_codewords(buff, version, capacity, len(buff))
    bits = _final_message(version, level, buff)
    template, places = _layout(version, mask)
    modules = [bytearray(row) for row in template]
    if len(bits) > len(places):  # pragma: no cover - segno raises the same
        raise ValueError(f"QR code: {len(bits)} bits for {len(places)} modules")
    for (row, col, flip), bit in zip(places, bits, strict=False):
        modules[row][col] = bit ^ flip
    for row, col, flip in places[len(bits) :]:  # the remainder bits (7.6): 0
        modules[row][col] = flip
    _segno.add_format_info(modules, version, level, mask)
    _segno.add_version_info(modules, version)
    return modules


_BITS = [bytes((value >> shift) & 1 for shift in range(7, -1, -1)) for value in range(256)]


def _final_message(version: int, level: int, buff: Any) -> bytes:
    """segno's ``make_final_message`` for QR codes (7.6): data codewords, then error correction
    codewords, interleaved block by block, as bits; without the remainder bits."""
    data_blocks, error_blocks = _segno.make_blocks(consts.ECC[version][level], buff)
    bits = _BITS
    out: list[bytes] = []
    for blocks in (data_blocks, error_blocks):
        longest = max(len(block) for block in blocks)
        for index in range(longest):
            out.extend(bits[block[index]] for block in blocks if index < len(block))
    return b"".join(out)


@cache
def _layout(version: int, mask: int) -> tuple[tuple[bytes, ...], list[tuple[int, int, int]]]:
    """The function patterns of a version, and the encoding region's modules in placement order
    with the mask's bit for each (ISO/IEC 18004:2015 7.7.3 and 7.8.2, as segno implements them)."""
    size = _segno.calc_matrix_size(version)
    template = _segno.make_matrix(size, size)
    _segno.add_finder_patterns(template, size, size)
    _segno.add_alignment_patterns(template, size, size)
    function = [bytearray(row) for row in template]
    function[-8][8] = 0x1  # the dark module, outside the encoding region
    pattern = _segno.get_data_mask_functions(False)[mask]
    places: list[tuple[int, int, int]] = []
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        for vertical in range(size):
            for z in range(2):
                col = right - z
                upwards = ((right & 2) == 0) ^ (col < 6)
                row = (size - 1 - vertical) if upwards else vertical
                if template[row][col] == 0x2:
                    flip = int(pattern(row, col)) if function[row][col] > 0x1 else 0
                    places.append((row, col, flip))
    return tuple(bytes(row) for row in template), places
