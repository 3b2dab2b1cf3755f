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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from io import BytesIO
from types import SimpleNamespace
from typing import IO, Any

import fpdf.output
from fontTools import subset as ftsubset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf.syntax import Name, PDFObject

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


def install() -> None:
    """Put the caching Subsetter and font stream into fpdf2's output module (idempotent)."""
    if not isinstance(getattr(fpdf.output, "ftsubset", None), SimpleNamespace):
        setattr(fpdf.output, "ftsubset", SimpleNamespace(Options=ftsubset.Options, Subsetter=_Subsetter))  # noqa: B010
        setattr(fpdf.output, "PDFFontStream", _FontStream)  # noqa: B010


def clear() -> None:
    with _lock:
        _cache.clear()
        _compressed.clear()
