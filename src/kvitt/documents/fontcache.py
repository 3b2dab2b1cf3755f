"""Reuse the embedded font subset between PDFs that use the same glyphs.

fpdf2 subsets the TrueType font of every document with fontTools when it writes the PDF (about
14 ms per font, three quarters of an invoice's time; bench/pdf.py). Invoices almost always use
the same glyphs, because ``pdf.py`` picks a fixed set of common characters (``COMMON``) into
every document's subset in a fixed order: then the subset font, and the glyph ids in it, are the
same for every invoice, and are computed once per process.

How: fpdf2's output module calls ``ftsubset.Subsetter(options).populate(glyphs=...)``, then
``.subset(font.ttfont)``, then ``font.ttfont.getGlyphID(name)`` and ``font.ttfont.save(stream)``.
``install()`` gives that module a ``Subsetter`` that, for a :class:`CachingTTFont` only, looks the
glyph set up in a cache (by font file and glyph names) and, on a hit, lets the font answer
``getGlyphID`` and ``save`` from the cache instead of subsetting. Every other font goes through
fontTools' own ``Subsetter`` unchanged. A document whose text has other characters gets its own
subset (a cache miss, the normal cost) and is then cached too.

:class:`OutputProducer` goes one step further for the same reason: what fpdf2 derives from a
font's subset when it writes the PDF (the 128 KB CIDToGIDMap, built as a list of 131,072
one-character strings and compressed; the glyph widths; the ToUnicode CMap; about 1.2 ms per font,
two fonts per invoice) is the same bytes for the same subset, so it is built once per process and
reused. The PDF is byte for byte what fpdf2's own producer writes (tested).
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from io import BytesIO
from types import SimpleNamespace
from typing import IO, Any

import fpdf.output
from fontTools import subset as ftsubset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf.fonts import TTFFont
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFObject

# Glyph sets kept per process (each entry holds one subset font of 10-40 KB).
CACHE_SIZE = 64

# Basic Latin, the Swedish letters and the symbols Kvitt's invoices print, in a fixed order.
COMMON = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "åäöÅÄÖéÉüÜ"  # Swedish and the most frequent loan-word letters
    + "\u00a0\u2212\u2013\u2026\u00b7\u00c0\u00e0§%€"  # NBSP, minus, en dash, …, ·, À/à (à-pris)
)


class _Entry:
    def __init__(self, glyph_ids: dict[str, int], data: bytes) -> None:
        self.glyph_ids = glyph_ids
        self.data = data


_cache: OrderedDict[tuple[str, frozenset[str]], _Entry] = OrderedDict()
_lock = threading.Lock()


class CachingTTFont(TTFont):  # type: ignore[misc]
    """A TTFont that, once matched to a cached subset, answers glyph ids and its bytes from it."""

    def __init__(self, data: bytes, source: str) -> None:
        super().__init__(BytesIO(data), lazy=True)
        self.kvitt_source = source
        self.kvitt_entry: _Entry | None = None
        self.kvitt_key: tuple[str, frozenset[str]] | None = None

    def getGlyphID(self, glyphName: str) -> int:
        if self.kvitt_entry is not None:
            return self.kvitt_entry.glyph_ids[glyphName]
        return int(super().getGlyphID(glyphName))

    def save(self, file: IO[bytes], reorderTables: bool | None = True) -> None:
        if self.kvitt_entry is not None:
            file.write(self.kvitt_entry.data)
            return
        buffer = BytesIO()
        super().save(buffer, reorderTables)
        data = buffer.getvalue()
        file.write(data)
        if self.kvitt_key is not None:
            glyph_ids = {name: index for index, name in enumerate(self.getGlyphOrder())}
            with _lock:
                _cache[self.kvitt_key] = _Entry(glyph_ids, data)
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)


class _Subsetter:
    """fontTools' Subsetter, with the cache in front of it for :class:`CachingTTFont`."""

    def __init__(self, options: Any = None) -> None:
        self._real = ftsubset.Subsetter(options)
        self._glyphs: frozenset[str] = frozenset()

    def populate(self, glyphs: Any = (), **kwargs: Any) -> None:
        self._glyphs = frozenset(glyphs)
        self._real.populate(glyphs=glyphs, **kwargs)

    def subset(self, font: Any) -> None:
        if isinstance(font, CachingTTFont):
            key = (font.kvitt_source, self._glyphs)
            with _lock:
                entry = _cache.get(key)
                if entry is not None:
                    _cache.move_to_end(key)
            if entry is not None:
                font.kvitt_entry = entry
                return
            font.kvitt_key = key
        self._real.subset(font)


_compressed: OrderedDict[bytes, bytes] = OrderedDict()


class _FontStream(fpdf.output.PDFFontStream):
    """fpdf2's embedded-font stream, with the zlib compression of identical font bytes done once.

    The subset font of the common glyph set is the same bytes for every invoice; compressing it
    (about 1 ms per font) is done once and the compressed bytes are reused.
    """

    def __init__(self, contents: bytes) -> None:
        with _lock:
            compressed = _compressed.get(contents)
        if compressed is None:
            super().__init__(contents)
            with _lock:
                _compressed[bytes(contents)] = self._contents
                while len(_compressed) > CACHE_SIZE:
                    _compressed.popitem(last=False)
            return
        PDFObject.__init__(self)
        self._contents = compressed
        self.filter = Name("FlateDecode")
        self.length = len(compressed)
        self.length1 = len(contents)


class _Derived:
    """What fpdf2 writes for one subset besides the font file: widths, ToUnicode, CIDToGIDMap."""

    def __init__(self, widths: str, to_unicode: bytes, cid_to_gid: bytes) -> None:
        self.widths = widths
        self.to_unicode = to_unicode
        self.cid_to_gid = cid_to_gid


_output: Any = fpdf.output  # fpdf2's output module, for its private helpers
_derived: OrderedDict[tuple[Any, ...], _Derived] = OrderedDict()


def _compressed_stream(compressed: bytes) -> PDFContentStream:
    """A content stream holding already compressed bytes (what ``compress=True`` would make)."""
    stream = PDFContentStream.__new__(PDFContentStream)
    PDFObject.__init__(stream)
    stream._contents = compressed
    stream.filter = Name("FlateDecode")
    stream.length = len(compressed)
    return stream


def _format_code(unicode: int) -> str:
    if unicode > 0xFFFF:
        high = 0xD800 | (unicode - 0x10000) >> 10
        low = 0xDC00 | (unicode & 0x3FF)
        return f"{high:04X}{low:04X}"
    return f"{unicode:04X}"


def _derive(font: Any, code_to_glyph: dict[int, int]) -> _Derived:
    """fpdf2 2.8's own computations (``output._add_fonts``), done once per subset."""
    bf_char = [
        f"<{code:04X}> <{''.join(_format_code(c) for c in glyph.unicode)}>\n"
        for glyph, code in font.subset.items()
        if glyph is not None and isinstance(glyph.unicode, tuple) and len(glyph.unicode) > 0
    ]
    to_unicode = (
        "/CIDInit /ProcSet findresource begin\n"
        "12 dict begin\n"
        "begincmap\n"
        "/CIDSystemInfo\n"
        "<</Registry (Adobe)\n"
        "/Ordering (UCS)\n"
        "/Supplement 0\n"
        ">> def\n"
        "/CMapName /Adobe-Identity-UCS def\n"
        "/CMapType 2 def\n"
        "1 begincodespacerange\n"
        "<0000> <FFFF>\n"
        "endcodespacerange\n"
        f"{_output._build_cmap_blocks(bf_char, 'bfchar')}"
        "endcmap\n"
        "CMapName currentdict /CMap defineresource pop\n"
        "end\n"
        "end"
    ).encode("latin-1")
    cid_to_gid = bytearray(256 * 256 * 2)
    for code, glyph_id in code_to_glyph.items():
        cid_to_gid[code * 2] = glyph_id >> 8
        cid_to_gid[code * 2 + 1] = glyph_id & 0xFF
    compressed = zlib.compress(bytes(cid_to_gid), level=PDFContentStream._COMPRESSION_LEVEL)
    return _Derived(_output._tt_font_widths(font), to_unicode, compressed)


class OutputProducer(fpdf.output.OutputProducer):
    """fpdf2's producer, with the objects derived from a TrueType subset built once per subset.

    Pass as ``pdf.output(output_producer_class=OutputProducer)``. Documents with fonts of another
    kind (core, colour, CFF) or a PDF/A profile go through fpdf2's own code unchanged.
    """

    def _add_fonts(self, image_objects_per_index: Any, gfxstate_objs_per_name: Any, pattern_objs_per_name: Any) -> Any:
        fonts = sorted(self.fpdf.fonts.values(), key=lambda font: font.i)
        plain = all(
            isinstance(font, TTFFont) and not font.color_font and not (font.is_cff and font.is_cid_keyed)
            for font in fonts
        )
        if self.fpdf._compliance or not plain:
            return super()._add_fonts(image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name)
        return {font.i: self._add_ttf(font) for font in fonts}

    def _add_ttf(self, font: Any) -> Any:
        output: Any = fpdf.output
        fontname = f"MPDFAA+{font.name}"
        glyph_names = font.subset.get_all_glyph_names()
        if font.missing_glyphs:
            output.LOGGER.warning("Font %s is missing glyphs: %s", fontname, font.missing_glyphs[:10])
        options = output.ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
        options.drop_tables += [
            *("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC"),
            *("EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR"),
        ]
        subsetter = output.ftsubset.Subsetter(options)
        subsetter.populate(glyphs=glyph_names)
        subsetter.subset(font.ttfont)
        code_to_glyph = {
            char_id: font.ttfont.getGlyphID(glyph.glyph_name)
            for glyph, char_id in font.subset.items()
            if glyph is not None
        }
        stream = BytesIO()
        font.ttfont.save(stream)
        ttfontstream = stream.getvalue()

        key = (
            str(font.ttffile),
            tuple(
                (code, glyph.glyph_name, glyph.unicode, glyph.glyph_width)
                for glyph, code in font.subset.items()
                if glyph is not None
            ),
            tuple(code_to_glyph.items()),
        )
        with _lock:
            derived = _derived.get(key)
        if derived is None:
            derived = _derive(font, code_to_glyph)
            with _lock:
                _derived[key] = derived
                while len(_derived) > CACHE_SIZE:
                    _derived.popitem(last=False)

        composite = output.PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = output.PDFFont(
            subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width, w=derived.widths
        )
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])
        to_unicode = PDFContentStream(derived.to_unicode)
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode
        system_info = output.CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info
        descriptor = font.desc
        descriptor.font_name = Name(fontname)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor
        cid_to_gid = _compressed_stream(derived.cid_to_gid)
        self._add_pdf_obj(cid_to_gid, "fonts")
        cid_font.c_i_d_to_g_i_d_map = cid_to_gid
        font_file = output.PDFFontStream(contents=ttfontstream)
        self._add_pdf_obj(font_file, "fonts")
        descriptor.font_file2 = font_file
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        font.close()
        return composite


def install() -> None:
    """Put the caching Subsetter and font stream into fpdf2's output module (idempotent)."""
    if not isinstance(getattr(fpdf.output, "ftsubset", None), SimpleNamespace):
        setattr(fpdf.output, "ftsubset", SimpleNamespace(Options=ftsubset.Options, Subsetter=_Subsetter))  # noqa: B010
        setattr(fpdf.output, "PDFFontStream", _FontStream)  # noqa: B010


def clear() -> None:
    with _lock:
        _cache.clear()
        _compressed.clear()
        _derived.clear()
