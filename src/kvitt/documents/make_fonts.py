"""Make the small fonts the PDF renderer uses first (run by hand; the output is committed).

    .venv/bin/python -m kvitt.documents.make_fonts

fpdf2 subsets the embedded TrueType font of every PDF with fontTools, and for the whole DejaVu
Sans (6,000 glyphs, 700 KB, large OpenType layout tables) that took about 60 ms per font per
PDF, most of the cost of an invoice (bench/pdf.py). These files hold the Latin scripts, the
punctuation and the symbols an invoice uses (U+2212 minus, U+00A0, en dash, ellipsis, currency
signs), without layout tables, so that per-PDF subsetting is cheap. A PDF whose text has a
character outside them is rendered again with the full fonts (``pdf.render``).

DejaVu's licence (LICENSE-DejaVu.txt) allows modified copies; the names keep no "Bitstream" or
"Vera".
"""

from __future__ import annotations

from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]

SOURCE = Path(__file__).parent / "fonts"
RANGES = [
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x00FF),  # Latin-1 Supplement (å ä ö é ü, NBSP, §, ×)
    (0x0100, 0x024F),  # Latin Extended-A and -B (Sámi, Finnish, Polish, Turkish, Baltic names)
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2000, 0x206F),  # General Punctuation (dashes, quotes, ellipsis, thin spaces)
    (0x20A0, 0x20CF),  # Currency Symbols (€)
    (0x2100, 0x214F),  # Letterlike Symbols (№, ™)
    (0x2190, 0x21FF),  # Arrows
    (0x2212, 0x2212),  # MINUS SIGN: CLDR's Swedish minus
]


def unicodes() -> list[int]:
    return [code for start, end in RANGES for code in range(start, end + 1)]


def make(source: Path, target: Path) -> None:
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "hdmx", "VDMX", "LTSH"]
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.name_IDs = ["*"]
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes())
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def main() -> None:
    for name in ("DejaVuSans", "DejaVuSans-Bold"):
        make(SOURCE / f"{name}.ttf", SOURCE / f"{name}-Latin.ttf")


if __name__ == "__main__":
    main()
