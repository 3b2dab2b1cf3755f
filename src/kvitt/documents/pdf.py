"""The invoice as a PDF (A4, fpdf2; the choice is measured in docs/decisions/0003-pdf-library.md).

What the page holds, and why:

- What Mervärdesskattelagen (2023:200) 17 kap. 24 § asks of a full invoice: the date of issue,
  a unique sequential number, the seller's VAT registration number, the seller's and the buyer's
  names and addresses, the quantity and nature of what was sold, the taxable amount per VAT rate,
  the unit price excluding VAT and any discount, the VAT rate and the VAT amount (the sum per
  rate). Besides: the organisation number, "Godkänd för F-skatt" (the buyer need not withhold
  tax), the due date, the total, the öresavrundning line and the payment details.
- A payment QR code in the UsingQR format (``kvitt.formats.qr_invoice``) while something is left
  to pay, and a QR code that opens the web invoice, where the recipient can switch to digital
  delivery.
- ``letter=True`` is the print version for a C5 window envelope: the recipient's address sits in
  the window (``WINDOW`` below), a return address line above it and a fold mark at half height
  (an A4 folded once fits a C5 envelope).

Text is Swedish, amounts are formatted as ``core.money.format_amount`` does (U+00A0 grouping and U+2212
minus), so the font is an embedded TTF (DejaVu Sans) that has those glyphs; fpdf2 embeds only the
glyphs used. QR codes are drawn as vector squares from segno's matrix, not as images.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_decimal
from fpdf import FPDF
from PIL import Image
from sqlalchemy.orm import Session

from kvitt.core.money import milli_to_quantity
from kvitt.documents import fontcache, qr
from kvitt.documents.data import InvoiceDocument, load
from kvitt.engagement.service import Shown
from kvitt.formats import qr_invoice
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant

fontcache.install()
FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVu"
LOCALE = "sv_SE"
MINUS = "\u2212"  # CLDR's sv minus sign, as core.money.format_amount writes it
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4 in mm
MARGIN = 18.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float


# The address window of a C5 window envelope, in mm from the top left corner of the A4 page:
# the common C5 window is 105 × 35 mm, 15 mm from the left edge and 44 mm from the top
# (Office Consult, "Brevmaler: plassering av mottakerfelt i vinduskonvolutter"; the same
# left-window position as DIN 5008 form B). The address is kept 5 mm inside every edge of that
# window so that it shows whatever the play of the sheet in the envelope.
WINDOW = Box(15.0, 44.0, 105.0, 35.0)
ADDRESS = Box(WINDOW.x + 5.0, WINDOW.y + 3.0, WINDOW.width - 10.0, WINDOW.height - 6.0)
FOLD_MARK_Y = PAGE_HEIGHT / 2  # folded once for C5

PAYMENT_QR_SIZE = 32.0
WEB_QR_SIZE = 26.0
QR_MASK = 2
# The logo: beside the tenant's name and address, above the letter's window (y 44).
LOGO_HEIGHT = 12.0
LOGO_WIDTH = 45.0
ROW_HEIGHT = 5.5
CELL_PADDING = 1.0  # fpdf2's cell margin at A4 in mm


def invoice_pdf(
    session: Session, tenant_id: int, invoice_id: int, *, letter: bool = False, base_url: str | None = None
) -> bytes:
    """The PDF of an issued invoice or credit note (``letter=True``: for a C5 window envelope)."""
    return render(load(session, tenant_id, invoice_id, base_url=base_url), letter=letter)


def invoice_pdf_for_delivery(
    session: Session, tenant_id: int, invoice_id: int, *, letter: bool = False, base_url: str | None = None
) -> tuple[bytes, list[Shown]]:
    """:func:`invoice_pdf` made to be delivered (a printed letter, an email's attachment), with
    the engagement placements on it: the sender counts them as impressions once it is handed
    over (``engagement.record_sent``, channel ``pdf``)."""
    document = load(session, tenant_id, invoice_id, base_url=base_url)
    return render(document, letter=letter), document.shown


def payment_qr_text(invoice: Invoice, tenant: Tenant) -> str | None:
    """The UsingQR content for what is left to pay, or None when there is nothing to pay by giro."""
    if invoice.kind != "invoice" or invoice.remaining <= 0 or invoice.invoice_date is None:
        return None
    if invoice.due_date is None or not (tenant.bankgiro or tenant.plusgiro):
        return None
    return qr_invoice.encode(
        qr_invoice.QrInvoice(
            payee_name=tenant.name,
            country=tenant.country,
            company_id=tenant.org_number,
            reference=invoice.ocr or str(invoice.number),
            invoice_date=invoice.invoice_date,
            due_date=invoice.due_date,
            amount_ore=invoice.remaining,
            currency=invoice.currency,
            payment_type="BG" if tenant.bankgiro else "PG",
            account=tenant.bankgiro or tenant.plusgiro or "",
        )
    )


def web_qr_text(document: InvoiceDocument, *, letter: bool) -> str:
    """The web invoice; on paper its Inställningar tab, where the recipient switches to digital
    delivery (``GET /i/<token>/settings`` of the web invoice leads there)."""
    return f"{document.web_url}/settings" if letter else document.web_url


def render(document: InvoiceDocument, *, letter: bool = False) -> bytes:
    """The PDF, with the small Latin fonts, or with the full fonts if the text needs a glyph they lack."""
    pdf = _draw(document, letter=letter, full_fonts=False)
    if any(getattr(font, "missing_glyphs", None) for font in pdf.fonts.values()):
        pdf = _draw(document, letter=letter, full_fonts=True)
    return bytes(pdf.output(output_producer_class=fontcache.OutputProducer))


def _draw(document: InvoiceDocument, *, letter: bool, full_fonts: bool) -> FPDF:
    pdf = _new_pdf(full_fonts, footer_lines(document.tenant))
    page = _Page(pdf, document, letter=letter)
    if letter:
        page.fold_mark()
    page.header()
    page.recipient(letter=letter)
    page.facts()
    page.lines()
    page.totals()
    page.placements()
    page.payment()
    return pdf


# --- fonts: parsed once per process ---------------------------------------------------------------

# The small Latin files first (made by make_fonts.py: per-PDF subsetting of the full 700 KB files
# cost more than the rest of the PDF), the full DejaVu Sans for text outside them.
FONT_FILES = {
    False: {"": "DejaVuSans-Latin.ttf", "B": "DejaVuSans-Bold-Latin.ttf"},
    True: {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"},
}


@cache
def _font_template(full: bool) -> FPDF:
    """An empty document with the fonts added; each PDF starts from copies of its font objects.

    fpdf2 parses a font's metrics when it is added (tens of milliseconds for DejaVu), so that
    happens once per process.
    """
    pdf = FPDF(format="A4", unit="mm")
    for style, name in FONT_FILES[full].items():
        pdf.add_font(FONT, style, str(FONTS / name))
    for font in pdf.fonts.values():
        for char in fontcache.COMMON:
            font.subset.pick(ord(char))  # type: ignore[union-attr]
    return pdf


def _new_pdf(full_fonts: bool = False, footer: list[str] | None = None) -> InvoicePdf:
    template = _font_template(full_fonts)
    pdf = InvoicePdf(format="A4", unit="mm")
    pdf.footer_lines = footer or []
    for key, font in template.fonts.items():
        pdf.fonts[key] = _fresh_font(font)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()
    return pdf


def _fresh_font(font: Any) -> Any:
    """A copy of a parsed font that reuses its metrics but has its own TrueType object and subset.

    fpdf2 subsets ``font.ttfont`` in place when it writes a document, so every document needs a
    TTFont of its own (a lazy one, from the bytes in memory: cheap). The subset starts as a copy
    of the template's, which holds the common characters in a fixed order, so that most invoices
    embed the same subset, which ``fontcache`` then builds once.
    """
    fresh = copy.copy(font)
    fresh.ttfont = fontcache.CachingTTFont(_font_bytes(str(font.ttffile)), str(font.ttffile))
    fresh.missing_glyphs = []
    fresh.subset = copy.copy(font.subset)
    fresh.subset.font = fresh
    # The subset's own state (what later picks change) is copied, the glyphs themselves are shared.
    fresh.subset._char_id_per_glyph = dict(font.subset._char_id_per_glyph)
    fresh.subset._reserved = list(font.subset._reserved)
    return fresh


@cache
def _font_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


# --- the page ---------------------------------------------------------------------------------------


def money(ore: int) -> str:
    """``format_amount(ore, "sv_SE")`` (``1 234,50 kr``, U+00A0 between groups and before kr,
    U+2212 minus) without Babel, which parses its pattern on every call: an invoice prints some
    thirty amounts, and Babel took a tenth of the PDF's time. A test compares the two."""
    whole, cents = divmod(abs(ore), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    return f"{MINUS if ore < 0 else ''}{grouped},{cents:02d}\u00a0kr"


def day(value: date | None) -> str:
    return value.isoformat() if value else "–"


def quantity(milli: int) -> str:
    return format_decimal(milli_to_quantity(milli), locale=LOCALE)


class _Page:
    def __init__(self, pdf: FPDF, document: InvoiceDocument, *, letter: bool = False) -> None:
        self.pdf = pdf
        self.letter = letter
        self.doc = document
        self.invoice = document.invoice
        self.tenant = document.tenant
        self.credit_note = self.invoice.kind == "credit_note"

    def text(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)

    def header(self) -> None:
        pdf, tenant = self.pdf, self.tenant
        beside = self.logo()
        pdf.set_xy(MARGIN + beside, 14)
        self.text(15, bold=True)
        pdf.cell(110 - beside, 7, tenant.name)
        self.text(18, bold=True)
        pdf.set_xy(120, 14)
        pdf.cell(PAGE_WIDTH - MARGIN - 120, 8, "Kreditfaktura" if self.credit_note else "Faktura", align="R")
        self.text(8.5)
        pdf.set_xy(MARGIN + beside, 22)
        for line in _address_lines(tenant.address_line1, tenant.address_line2, tenant.postal_code, tenant.city):
            pdf.set_x(MARGIN + beside)  # beside the logo, as the name
            pdf.cell(100 - beside, 4, line, new_x="LMARGIN", new_y="NEXT")

    def logo(self) -> float:
        """The tenant's logo left of its name, LOGO_HEIGHT tall (at most LOGO_WIDTH wide); the
        millimetres the name moves right to make room, 0 without a logo."""
        if self.doc.logo is None:
            return 0.0
        with Image.open(io.BytesIO(self.doc.logo)) as image:
            width, height = image.size
        shown_width = min(LOGO_HEIGHT * width / height, LOGO_WIDTH)
        shown_height = shown_width * height / width
        top = 13.0
        self.pdf.image(io.BytesIO(self.doc.logo), x=MARGIN, y=top, w=shown_width, h=shown_height)
        return shown_width + 3

    def recipient(self, *, letter: bool) -> None:
        pdf, buyer = self.pdf, self.invoice.buyer
        if letter:
            # The return address, small, at the top of the window (Posten asks for it on the front).
            self.text(6.5)
            pdf.set_xy(ADDRESS.x, WINDOW.y + 1.0)
            sender = ", ".join(
                part for part in (self.tenant.name, self.tenant.address_line1, self.tenant.postal_code) if part
            )
            pdf.cell(ADDRESS.width, 3, sender)
        lines = [buyer.get("name") or ""]
        lines += _address_lines(
            buyer.get("address_line1"), buyer.get("address_line2"), buyer.get("postal_code"), buyer.get("city")
        )
        country = str(buyer.get("country") or "SE")
        if country != "SE":
            # Abroad: the country's name last, in capitals, in the sender's language (UPU practice).
            lines.append(Locale("sv").territories.get(country, country).upper())
        pdf.set_xy(ADDRESS.x, ADDRESS.y + 4.0)
        for index, line in enumerate(lines[:6]):
            self.text(10.5, bold=index == 0)
            pdf.set_x(ADDRESS.x)
            pdf.cell(ADDRESS.width, 5, line, new_x="LEFT", new_y="NEXT")

    def facts(self) -> None:
        invoice, buyer = self.invoice, self.invoice.buyer
        rows = [
            ("Kreditfakturanummer" if self.credit_note else "Fakturanummer", str(invoice.number)),
            ("Fakturadatum", day(invoice.invoice_date)),
        ]
        if self.credit_note:
            credited = self.doc.credited
            if credited is not None:
                rows.append(("Krediterar faktura", f"{credited.number} ({day(credited.invoice_date)})"))
        else:
            rows.append(("Förfallodatum", day(invoice.due_date)))
            if invoice.ocr:
                rows.append(("OCR-nummer", invoice.ocr))
        rows.append(("Kundnummer", str(buyer.get("customer_no") or "")))
        if buyer.get("type") == "company" and buyer.get("id_number"):
            rows.append(("Kundens org.nr", str(buyer["id_number"])))
        y = 44.0
        for label, value in rows:
            self.text(8.5)
            self.put(128, y, 34, 5, label)
            self.text(8.5, bold=True)
            self.put(162, y, PAGE_WIDTH - MARGIN - 162, 5, value, right=True)
            y += 5.5

    def lines(self) -> None:
        pdf = self.pdf
        pdf.set_xy(MARGIN, 90)
        widths = (82.0, 20.0, 28.0, 16.0, CONTENT_WIDTH - 146.0)
        headings = ("Beskrivning", "Antal", "À-pris", "Moms", "Belopp")
        self._table_row(widths, headings, bold=True)
        pdf.line(MARGIN, pdf.get_y(), PAGE_WIDTH - MARGIN, pdf.get_y())
        for line in self.invoice.lines:
            if pdf.get_y() > PAGE_HEIGHT - 40:
                pdf.add_page()
                self._table_row(widths, headings, bold=True)
            description = line.description
            if line.discount_bp:
                description += f" (rabatt {format_decimal(Decimal(line.discount_bp) / 100, locale=LOCALE)} %)"
            unit = f" {line.unit}" if line.unit else ""
            self._table_row(
                widths,
                (
                    description,
                    quantity(line.quantity_milli) + unit,
                    money(line.unit_price),
                    f"{line.vat_rate} %",
                    money(line.net),
                ),
            )
        pdf.line(MARGIN, pdf.get_y() + 1, PAGE_WIDTH - MARGIN, pdf.get_y() + 1)
        pdf.ln(3)

    def put(self, x: float, top: float, width: float, height: float, text: str, *, right: bool = False) -> None:
        """Text where ``cell(width, height, text)`` at (x, top) would put it, for less than half the cost."""
        pdf = self.pdf
        baseline = top + height / 2 + 0.3 * pdf.font_size
        if right:
            pdf.text(x + width - CELL_PADDING - pdf.get_string_width(text), baseline, text)
        else:
            pdf.text(x + CELL_PADDING, baseline, text)

    def _table_row(self, widths: tuple[float, ...], cells: tuple[str, ...], *, bold: bool = False) -> None:
        """One row of the lines table, placed with ``text`` at computed positions.

        The same place ``cell`` would put the text (1 mm padding, baseline at the middle of the
        5.5 mm row), at less than half the cost: the table is most of an invoice's text.
        """
        pdf = self.pdf
        self.text(8.5, bold=bold)
        baseline = pdf.get_y() + ROW_HEIGHT / 2 + 0.3 * pdf.font_size
        x = MARGIN
        for index, (width, cell) in enumerate(zip(widths, cells, strict=True)):
            if index == 0:
                pdf.text(x + CELL_PADDING, baseline, _fit(pdf, cell, width - 2 * CELL_PADDING))
            else:
                pdf.text(x + width - CELL_PADDING - pdf.get_string_width(cell), baseline, cell)
            x += width
        pdf.set_xy(MARGIN, pdf.get_y() + ROW_HEIGHT)

    def totals(self) -> None:
        pdf, invoice = self.pdf, self.invoice
        rows = [("Summa exklusive moms", money(invoice.net))]
        for group in sorted(invoice.vat_summary, key=lambda g: -g["rate"]):
            rows.append((f"Moms {group['rate']} % på {money(group['net'])}", money(group["vat"])))
        rows.append(("Summa moms", money(invoice.vat)))
        if invoice.rounding:
            rows.append(("Öresavrundning", money(invoice.rounding)))
        rows.append(("Totalt att kreditera" if self.credit_note else "Totalt", money(invoice.total)))
        label_x, width = 110.0, PAGE_WIDTH - MARGIN - 110.0
        for index, (label, value) in enumerate(rows):
            last = index == len(rows) - 1
            self.text(9.5 if last else 8.5, bold=last)
            y = pdf.get_y()
            self.put(label_x, y, width - 32, ROW_HEIGHT, label)
            self.put(label_x + width - 32, y, 32, ROW_HEIGHT, value, right=True)
            pdf.set_xy(MARGIN, y + ROW_HEIGHT)
        if self.invoice.notes:
            self.text(8.5)
            pdf.ln(2)
            pdf.multi_cell(CONTENT_WIDTH, 4.5, self.invoice.notes)

    def placements(self) -> None:
        """Offers and information for the recipient (kvitt.engagement), under the totals."""
        pdf = self.pdf
        for item in self.doc.placements:
            pdf.ln(3)
            pdf.set_x(MARGIN)
            self.text(9.5, bold=True)
            pdf.multi_cell(CONTENT_WIDTH, 5, item["title"])
            self.text(8.5)
            if item["text"]:
                pdf.set_x(MARGIN)
                pdf.multi_cell(CONTENT_WIDTH, 4.5, item["text"])
            if item["link"]:
                pdf.set_x(MARGIN)
                pdf.multi_cell(CONTENT_WIDTH, 4.5, f"{item['cta']}: {item['link']}")

    def payment(self) -> None:
        pdf, invoice, tenant = self.pdf, self.invoice, self.tenant
        top = PAGE_HEIGHT - 84.0
        if pdf.get_y() > top - 4:
            pdf.add_page()
        pdf.set_draw_color(160, 160, 160)
        pdf.rect(MARGIN, top, CONTENT_WIDTH, 58.0)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_xy(MARGIN + 4, top + 4)
        self.text(10.5, bold=True)
        qr_text = payment_qr_text(invoice, tenant)
        if self.credit_note:
            pdf.cell(100, 6, "Kreditfaktura – du behöver inte betala något", new_x="LEFT", new_y="NEXT")
            self.text(8.5)
            pdf.multi_cell(100, 4.5, "Beloppet dras av från den krediterade fakturan.")
        elif invoice.remaining <= 0:
            pdf.cell(100, 6, "Fakturan är betald – tack!", new_x="LEFT", new_y="NEXT")
        elif self.doc.autogiro_on is not None:
            qr_text = None  # nothing to pay by hand: autogiro takes it
            pdf.cell(100, 6, f"Dras via autogiro {day(self.doc.autogiro_on)}", new_x="LEFT", new_y="NEXT")
            self.text(9)
            pdf.multi_cell(100, 4.5, f"Att betala {money(invoice.remaining)} dras från ditt konto den dagen.")
            pdf.set_x(MARGIN + 4)
            pdf.multi_cell(100, 4.5, "Du behöver inte göra något.")
        else:
            pdf.cell(100, 6, "Betalningsinformation", new_x="LEFT", new_y="NEXT")
            rows = []
            if tenant.bankgiro:
                rows.append(("Bankgiro", tenant.bankgiro))
            elif tenant.plusgiro:
                rows.append(("Plusgiro", tenant.plusgiro))
            rows.append(("OCR-nummer", invoice.ocr or str(invoice.number)))
            rows.append(("Förfallodatum", day(invoice.due_date)))
            rows.append(("Att betala", money(invoice.remaining)))
            for label, value in rows:
                y = pdf.get_y()
                self.text(9)
                self.put(MARGIN + 4, y, 30, 6, label)
                self.text(10.5, bold=True)
                self.put(MARGIN + 34, y, 50, 6, value)
                pdf.set_xy(MARGIN + 4, y + 6)
            self.text(7.5)
            pdf.set_x(MARGIN + 4)
            pdf.cell(90, 5, "Ange OCR-numret när du betalar.")
        web_x = PAGE_WIDTH - MARGIN - 4 - WEB_QR_SIZE
        if qr_text is not None:
            pay_x = web_x - 8 - PAYMENT_QR_SIZE
            _draw_qr(pdf, qr_text, pay_x, top + 6, PAYMENT_QR_SIZE, error="M")
            self.text(6.5)
            pdf.set_xy(pay_x - 2, top + 7 + PAYMENT_QR_SIZE)
            pdf.cell(PAYMENT_QR_SIZE + 4, 3.5, "Skanna och betala", align="C")
        _draw_qr(pdf, web_qr_text(self.doc, letter=self.letter), web_x, top + 6, WEB_QR_SIZE, error="M")
        self.text(6.5)
        pdf.set_xy(web_x - 6, top + 7 + WEB_QR_SIZE)
        caption = (
            "Byt till digital faktura –\nskanna här" if self.letter else "Fakturan på webben –\nvälj digital faktura"
        )
        pdf.multi_cell(WEB_QR_SIZE + 12, 3.2, caption, align="C")
        self.text(7)
        pdf.set_xy(MARGIN + 4, top + 50)
        pdf.cell(CONTENT_WIDTH - 8, 4, f"Webbfaktura: {self.doc.web_url}")

    def fold_mark(self) -> None:
        self.pdf.set_line_width(0.2)
        self.pdf.line(3, FOLD_MARK_Y, 8, FOLD_MARK_Y)


def footer_lines(tenant: Tenant) -> list[str]:
    """The seller's name, address, organisation and VAT numbers, F-skatt and contact, on every page."""
    parts = [tenant.name, *_address_lines(tenant.address_line1, tenant.address_line2, tenant.postal_code, tenant.city)]
    legal = [f"Org.nr {tenant.org_number}"]
    if tenant.vat_number:
        legal.append(f"Momsreg.nr {tenant.vat_number}")
    if tenant.f_skatt:
        legal.append("Godkänd för F-skatt")
    legal += [part for part in (tenant.email, tenant.phone) if part]
    return [" · ".join(parts), " · ".join(legal)]


class InvoicePdf(FPDF):
    """fpdf2's document with the invoice footer, which fpdf2 draws as each page ends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.footer_lines: list[str] = []

    def footer(self) -> None:
        self.set_font(FONT, "", 7)
        self.set_xy(MARGIN, PAGE_HEIGHT - 20)
        for line in self.footer_lines:
            self.cell(CONTENT_WIDTH, 3.6, line, align="C", new_x="LMARGIN", new_y="NEXT")
        self.cell(CONTENT_WIDTH, 3.6, f"Sida {self.page_no()} av {{nb}}", align="C")


def _address_lines(line1: str | None, line2: str | None, postal_code: str | None, city: str | None) -> list[str]:
    lines = [line for line in (line1, line2) if line]
    place = " ".join(part for part in (postal_code, city) if part)
    if place:
        lines.append(place)
    return lines


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """The text shortened with an ellipsis to fit the width (a line's description, one line)."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _draw_qr(pdf: FPDF, content: str, x: float, y: float, size: float, *, error: str) -> None:
    """A QR code as one filled path of squares (a run of dark modules in a row is one rectangle).

    Written as raw PDF path operators ("re", then one "f"): a few hundred ``pdf.rect`` calls cost
    more than the rest of the page. The quiet zone (4 modules, ISO/IEC 18004) is left blank. The
    runs are found with a regular expression over each row's bytes and the coordinates formatted
    once per column and row, not once per rectangle.
    """
    # A fixed mask: segno otherwise scores all eight (ISO/IEC 18004 8.8.2), which is slow;
    # any mask is valid and the codes decode the same (tested with zbar). ``qr.matrix`` is
    # segno's matrix for that mask, made faster (tests/documents/test_qr.py).
    modules = qr.matrix(content, error=error, mask=QR_MASK)
    border = 4
    count = len(modules)
    cell = size / (count + 2 * border)
    k, page_height = pdf.k, pdf.h
    lefts = [f"{(x + (col + border) * cell) * k:.3f}" for col in range(count)]
    widths = [f"{length * cell * k:.3f}" for length in range(count + 1)]
    height = f"{cell * k:.3f}"
    ops = ["q 0 g"]
    for row_index, row in enumerate(modules):
        bottom = f"{(page_height - (y + (row_index + border + 1) * cell)) * k:.3f}"
        tail = f" {bottom} "
        end = f" {height} re"
        for run in _DARK_RUN.finditer(row):
            start = run.start()
            ops.append(lefts[start] + tail + widths[run.end() - start] + end)
    ops.append("f Q")
    pdf._out("\n".join(ops))


_DARK_RUN = re.compile(b"\x01+")
