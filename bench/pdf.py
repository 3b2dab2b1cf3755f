"""PDF invoices per second on one core: fpdf2 (Kvitt's renderer) against WeasyPrint and ReportLab.

The same invoice for every library: A4, 10 lines, totals with VAT per rate and öresavrundning,
the payment box, a UsingQR payment QR code and a web-invoice QR code, DejaVu Sans embedded (the
Swedish minus U+2212 and no-break spaces need a TTF font). Fonts are loaded once per process for
every library, as a server would. Each figure is one process, one thread, timed in CPU seconds of
the process (``time.process_time``): PDFs per second per core, not disturbed by other load on the
machine (wall-clock figures on a shared machine vary by 2x from run to run).

Baseline (same run): fpdf2 writing an A4 page with one line of text with Kvitt's fonts (the
floor cost of a PDF with an embedded TTF font). ``vs baseline`` = measured / baseline.

WeasyPrint and ReportLab are not runtime dependencies: ``pip install -e '.[bench]'``. A library
that is not installed is reported as such, not skipped silently.

    .venv/bin/python bench/pdf.py [--seconds 5] [--markdown]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import date
from io import BytesIO
from pathlib import Path

import segno

from kvitt.core.money import format_amount
from kvitt.documents.data import InvoiceDocument
from kvitt.documents.pdf import FONTS, payment_qr_text, render
from kvitt.invoices.models import Invoice, InvoiceLine
from kvitt.tenants.models import Tenant

GOAL = 100.0  # PDFs per second per core (issue 5)
WEB_URL = "https://kvitt.example/i/V2DiQmZkEv0pQ8HJhSdzo87gbkLNXCQa"


def sample_document() -> InvoiceDocument:
    """A 10-line invoice, built in memory (no database: this measures the PDF library)."""
    tenant = Tenant(
        id=1,
        name="Norrsken Telekom AB",
        org_number="556036-0793",
        vat_number="SE556036079301",
        f_skatt=True,
        address_line1="Hamngatan 3",
        postal_code="972 38",
        city="Luleå",
        country="SE",
        email="kund@norrsken.example",
        bankgiro="5050-1055",
    )
    lines = [
        InvoiceLine(
            position=i + 1,
            kind="item",
            description=f"Mobilabonnemang {i + 1} – Fri surf, samtal och sms",
            quantity_milli=1000 * (1 + i % 3),
            unit="st",
            unit_price=19900 + 1000 * i,
            discount_bp=0,
            vat_rate=25 if i % 4 else 6,
            net=(1 + i % 3) * (19900 + 1000 * i),
        )
        for i in range(10)
    ]
    by_rate: dict[int, int] = {}
    for line in lines:
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, 0) + line.net
    summary = [{"rate": rate, "net": net, "vat": net * rate // 100} for rate, net in sorted(by_rate.items())]
    net = sum(by_rate.values())
    vat = sum(g["vat"] for g in summary)
    total = (net + vat + 50) // 100 * 100
    invoice = Invoice(
        id=1,
        tenant_id=1,
        customer_id=1,
        kind="invoice",
        state="unpaid",
        number=100234,
        ocr="1002346",
        token=WEB_URL.rsplit("/", 1)[1],
        currency="SEK",
        invoice_date=date(2026, 11, 25),
        due_date=date(2026, 12, 25),
        net=net,
        vat=vat,
        rounding=total - net - vat,
        total=total,
        remaining=total,
        vat_summary=summary,
        buyer={
            "customer_no": "1001",
            "name": "Åsa Öberg-Lindqvist",
            "type": "individual",
            "address_line1": "Storgatan 12 B",
            "postal_code": "981 31",
            "city": "Kiruna",
            "country": "SE",
        },
        notes=None,
    )
    invoice.lines = lines
    return InvoiceDocument(invoice, tenant, None, WEB_URL)


# --- fpdf2 --------------------------------------------------------------------------------------


def fpdf2_kvitt(document: InvoiceDocument) -> Callable[[], bytes]:
    return lambda: render(document)


def fpdf2_cache_cleared(document: InvoiceDocument) -> Callable[[], bytes]:
    """Kvitt's renderer with the font subset cache emptied before each PDF (an invoice whose text
    has characters outside the common set pays this once per new glyph set)."""
    from kvitt.documents import fontcache

    def run() -> bytes:
        fontcache.clear()
        return render(document)

    return run


def fpdf2_plain(document: InvoiceDocument) -> Callable[[], bytes]:
    """The same page the way fpdf2 is usually used: the full DejaVu added to every document."""
    import kvitt.documents.pdf as module

    def run() -> bytes:
        pdf = module.InvoicePdf(format="A4", unit="mm")
        pdf.footer_lines = module.footer_lines(document.tenant)
        pdf.add_font(module.FONT, "", str(FONTS / "DejaVuSans.ttf"))
        pdf.add_font(module.FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        pdf.set_margins(module.MARGIN, module.MARGIN, module.MARGIN)
        pdf.set_auto_page_break(auto=True, margin=22)
        pdf.add_page()
        page = module._Page(pdf, document)
        page.header()
        page.recipient(letter=False)
        for part in (page.facts, page.lines, page.totals, page.payment):
            part()
        return bytes(pdf.output())

    return run


def fpdf2_baseline(_: InvoiceDocument) -> Callable[[], bytes]:
    from kvitt.documents.pdf import FONT, _new_pdf

    def run() -> bytes:
        pdf = _new_pdf()
        pdf.set_font(FONT, "", 10)
        pdf.cell(100, 5, "Faktura 100234 − 1 234,50 kr")
        return bytes(pdf.output())

    return run


# --- WeasyPrint ----------------------------------------------------------------------------------


def weasyprint_html(document: InvoiceDocument) -> Callable[[], bytes]:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = CSS(
        string=f"""
        @font-face {{ font-family: DejaVu; src: url('file://{FONTS / "DejaVuSans.ttf"}'); }}
        @font-face {{ font-family: DejaVu; font-weight: bold; src: url('file://{FONTS / "DejaVuSans-Bold.ttf"}'); }}
        @page {{ size: A4; margin: 18mm; }}
        body {{ font-family: DejaVu; font-size: 8.5pt; }}
        h1 {{ font-size: 18pt; text-align: right; margin: 0; }}
        .address {{ position: absolute; left: 2mm; top: 29mm; width: 95mm; font-size: 10.5pt; }}
        .facts {{ position: absolute; left: 110mm; top: 26mm; }}
        table.lines {{ margin-top: 72mm; width: 100%; border-collapse: collapse; }}
        td.n, th.n {{ text-align: right; }}
        .pay {{ border: 0.3mm solid #999; padding: 4mm; margin-top: 10mm; }}
        .qr svg {{ width: 30mm; height: 30mm; }}
        """,
        font_config=fonts,
    )
    html = _html(document)

    def run() -> bytes:
        return bytes(HTML(string=html).write_pdf(stylesheets=[css], font_config=fonts))

    return run


def _html(document: InvoiceDocument) -> str:
    invoice, tenant = document.invoice, document.tenant
    rows = "".join(
        f"<tr><td>{line.description}</td><td class=n>{line.quantity_milli // 1000}</td>"
        f"<td class=n>{format_amount(line.unit_price)}</td><td class=n>{line.vat_rate} %</td>"
        f"<td class=n>{format_amount(line.net)}</td></tr>"
        for line in invoice.lines
    )
    vat_rows = "".join(
        f"<tr><td>Moms {g['rate']} % på {format_amount(g['net'])}</td><td class=n>{format_amount(g['vat'])}</td></tr>"
        for g in invoice.vat_summary
    )
    pay_qr = segno.make_qr(payment_qr_text(invoice, tenant) or "", error="M").svg_inline(scale=2)
    web_qr = segno.make_qr(document.web_url, error="M").svg_inline(scale=2)
    buyer = invoice.buyer
    return f"""<!doctype html><html lang=sv><body>
    <h1>Faktura</h1><b>{tenant.name}</b><br>{tenant.address_line1}<br>{tenant.postal_code} {tenant.city}
    <div class=address><b>{buyer["name"]}</b><br>{buyer["address_line1"]}<br>
    {buyer["postal_code"]} {buyer["city"]}</div>
    <table class=facts><tr><td>Fakturanummer</td><td class=n>{invoice.number}</td></tr>
    <tr><td>Fakturadatum</td><td class=n>{invoice.invoice_date}</td></tr>
    <tr><td>Förfallodatum</td><td class=n>{invoice.due_date}</td></tr>
    <tr><td>OCR</td><td class=n>{invoice.ocr}</td></tr>
    </table>
    <table class=lines><tr><th>Beskrivning</th><th class=n>Antal</th><th class=n>À-pris</th><th class=n>Moms</th>
    <th class=n>Belopp</th></tr>{rows}</table>
    <table style="margin-left:90mm"><tr><td>Summa exklusive moms</td><td class=n>{format_amount(invoice.net)}</td></tr>
    {vat_rows}<tr><td>Öresavrundning</td><td class=n>{format_amount(invoice.rounding)}</td></tr>
    <tr><td><b>Totalt</b></td><td class=n><b>{format_amount(invoice.total)}</b></td></tr></table>
    <div class=pay><b>Betalningsinformation</b><br>Bankgiro {tenant.bankgiro}<br>OCR {invoice.ocr}<br>
    Att betala {format_amount(invoice.remaining)}<span class=qr>{pay_qr}{web_qr}</span></div>
    <p>Org.nr {tenant.org_number} · Momsreg.nr {tenant.vat_number} · Godkänd för F-skatt</p>
    </body></html>"""


# --- ReportLab -----------------------------------------------------------------------------------


def reportlab_canvas(document: InvoiceDocument) -> Callable[[], bytes]:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    pdfmetrics.registerFont(TTFont("DejaVu", str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
    invoice, tenant = document.invoice, document.tenant
    pay_qr = segno.make_qr(payment_qr_text(invoice, tenant) or "", error="M")
    web_qr = segno.make_qr(document.web_url, error="M")
    height = A4[1]

    def qr(canvas: Canvas, code: segno.QRCode, x: float, y: float, size: float) -> None:
        cell = size / (len(code.matrix) + 8)
        for r, row in enumerate(code.matrix):
            for c, dark in enumerate(row):
                if dark:
                    canvas.rect(x + (c + 4) * cell, y - (r + 5) * cell, cell, cell, stroke=0, fill=1)

    def run() -> bytes:
        out = BytesIO()
        canvas = Canvas(out, pagesize=A4)
        canvas.setFont("DejaVu-Bold", 15)
        canvas.drawString(18 * mm, height - 20 * mm, tenant.name)
        canvas.setFont("DejaVu-Bold", 18)
        canvas.drawRightString(192 * mm, height - 20 * mm, "Faktura")
        canvas.setFont("DejaVu", 10.5)
        buyer = invoice.buyer
        for i, text in enumerate([buyer["name"], buyer["address_line1"], f"{buyer['postal_code']} {buyer['city']}"]):
            canvas.drawString(20 * mm, height - (52 + 5 * i) * mm, text)
        canvas.setFont("DejaVu", 8.5)
        for i, (label, value) in enumerate(
            [("Fakturanummer", invoice.number), ("Förfallodatum", invoice.due_date), ("OCR", invoice.ocr)]
        ):
            canvas.drawString(128 * mm, height - (48 + 5.5 * i) * mm, label)
            canvas.drawRightString(192 * mm, height - (48 + 5.5 * i) * mm, str(value))
        y = height - 95 * mm
        for line in invoice.lines:
            canvas.drawString(18 * mm, y, line.description)
            canvas.drawRightString(120 * mm, y, str(line.quantity_milli // 1000))
            canvas.drawRightString(148 * mm, y, format_amount(line.unit_price))
            canvas.drawRightString(164 * mm, y, f"{line.vat_rate} %")
            canvas.drawRightString(192 * mm, y, format_amount(line.net))
            y -= 5.5 * mm
        for group in invoice.vat_summary:
            canvas.drawString(110 * mm, y, f"Moms {group['rate']} % på {format_amount(group['net'])}")
            canvas.drawRightString(192 * mm, y, format_amount(group["vat"]))
            y -= 5.5 * mm
        canvas.drawRightString(192 * mm, y, format_amount(invoice.total))
        canvas.rect(18 * mm, 26 * mm, 174 * mm, 58 * mm)
        canvas.drawString(22 * mm, 76 * mm, f"Bankgiro {tenant.bankgiro}  OCR {invoice.ocr}")
        qr(canvas, pay_qr, 116 * mm, 80 * mm, 32 * mm)
        qr(canvas, web_qr, 162 * mm, 80 * mm, 26 * mm)
        canvas.drawCentredString(105 * mm, 14 * mm, f"Org.nr {tenant.org_number} · Godkänd för F-skatt")
        canvas.showPage()
        canvas.save()
        return out.getvalue()

    return run


# --- measuring -----------------------------------------------------------------------------------


def measure(make: Callable[[], bytes], seconds: float) -> tuple[float, int]:
    """PDFs per CPU second of this process: per core, whatever else the machine is doing."""
    make()  # warm-up: imports, font loading, caches
    count, start = 0, time.process_time()
    size = 0
    while time.process_time() - start < seconds:
        size = len(make())
        count += 1
    return count / (time.process_time() - start), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="time spent on each figure")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    args = parser.parse_args()
    document = sample_document()
    candidates: list[tuple[str, Callable[[InvoiceDocument], Callable[[], bytes]]]] = [
        ("baseline: fpdf2, one line of text", fpdf2_baseline),
        ("fpdf2: Kvitt's renderer", fpdf2_kvitt),
        ("fpdf2: Kvitt's renderer, font subset cache emptied each time", fpdf2_cache_cleared),
        ("fpdf2 as usually used: full DejaVu added to every PDF", fpdf2_plain),
        ("ReportLab canvas (same content)", reportlab_canvas),
        ("WeasyPrint HTML/CSS (same content)", weasyprint_html),
    ]
    rows: list[tuple[str, str, str, str, str]] = []
    baseline = None
    for name, factory in candidates:
        try:
            make = factory(document)
        except ImportError as exc:
            rows.append((name, f"≥ {GOAL:.0f}/s", f"not installed: {exc}", "–", "–"))
            continue
        rate, size = measure(make, args.seconds)
        if baseline is None:
            baseline = rate
        rows.append((name, f"≥ {GOAL:.0f}/s", f"{rate:,.1f}/s", f"{rate / baseline:.2f}", f"{size / 1024:.0f} KB"))
        print(f"{name:48} {rate:9.1f} PDFs/s  {size / 1024:6.0f} KB", file=sys.stderr)
    header = ("figure (one core, PDFs/s)", "goal", "measured", "vs baseline", "PDF size")
    print(f"\nPython {platform.python_version()} on {platform.machine()}, {args.seconds:g} s per figure")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    if args.markdown:
        print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent.parent / "src"))
    main()
