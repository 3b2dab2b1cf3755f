"""The PDF's fast paths give exactly what the slow ones they replace give.

``qr.matrix`` is segno's matrix for a fixed mask; ``pdf.money`` is ``core.money.format_amount``;
``fontcache.OutputProducer`` writes the same bytes as fpdf2's own producer.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime

import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from kvitt.core.money import format_amount
from kvitt.documents import fontcache, pdf, qr
from kvitt.documents.data import InvoiceDocument
from kvitt.invoices.models import Invoice, InvoiceLine
from kvitt.tenants.models import Tenant

ALPHABETS = [
    string.digits,  # numeric mode
    string.ascii_uppercase + string.digits + " $%*+-./:",  # alphanumeric mode
    string.printable,  # bytes
    'åäöÅÄÖ€{}":,−\u00a0abc',  # UTF-8 bytes, the UsingQR JSON of a Swedish payee
]


def segno_matrix(content: str, error: str, mask: int) -> list[bytes]:
    code = segno.make_qr(content, error=error, mask=mask, encoding=None if content.isascii() else "utf-8")
    return [bytes(row) for row in code.matrix]


@settings(max_examples=300, deadline=None)
@given(
    content=st.sampled_from(ALPHABETS).flatmap(lambda chars: st.text(alphabet=chars, min_size=1, max_size=600)),
    error=st.sampled_from("LMQH"),
    mask=st.integers(min_value=0, max_value=7),
)
def test_qr_matrix_is_segnos(content: str, error: str, mask: int) -> None:
    assert [bytes(row) for row in qr.matrix(content, error=error, mask=mask)] == segno_matrix(content, error, mask)


def test_qr_matrix_of_every_version() -> None:
    """Versions 1 to 40 (remainder bits, version information, several block groups)."""
    seen = set()
    for length in range(1, 2954, 11):
        content = "x" * length
        expected = segno_matrix(content, "L", 2)
        assert [bytes(row) for row in qr.matrix(content, error="L", mask=2)] == expected
        seen.add(len(expected))
    assert len(seen) == 40


@given(ore=st.integers(min_value=-(10**13), max_value=10**13))
def test_money_is_format_amount(ore: int) -> None:
    assert pdf.money(ore) == format_amount(ore, "sv_SE", "SEK")


def document(lines: int, description: str = "Abonnemang") -> InvoiceDocument:
    tenant = Tenant(
        id=1,
        name="Norrsken AB",
        org_number="556036-0793",
        vat_number="SE556036079301",
        f_skatt=True,
        address_line1="Hamngatan 3",
        postal_code="972 38",
        city="Luleå",
        country="SE",
        bankgiro="5050-1055",
    )
    invoice = Invoice(
        id=1,
        tenant_id=1,
        kind="invoice",
        number=1001,
        ocr="100124",
        currency="SEK",
        invoice_date=datetime(2026, 11, 25).date(),
        due_date=datetime(2026, 12, 25).date(),
        buyer={
            "name": "Åsa Öberg",
            "address_line1": "Storgatan 1",
            "postal_code": "111 22",
            "city": "Stockholm",
            "country": "SE",
            "customer_no": "7",
        },
        net=19900 * lines,
        vat=4975 * lines,
        rounding=0,
        total=24875 * lines,
        paid=0,
        remaining=24875 * lines,
        vat_summary=[{"rate": 25, "net": 19900 * lines, "vat": 4975 * lines}],
        notes=None,
    )
    invoice.lines = [
        InvoiceLine(
            position=i + 1,
            kind="item",
            description=f"{description} {i + 1}",
            quantity_milli=1000,
            unit="st",
            unit_price=19900,
            discount_bp=0,
            vat_rate=25,
            net=19900,
        )
        for i in range(lines)
    ]
    return InvoiceDocument(invoice=invoice, tenant=tenant, credited=None, web_url="https://kvitt.example/i/abc")


def test_output_producer_writes_what_fpdf2_writes() -> None:
    """Byte for byte, on two pages, as a letter, and with text outside the common glyph set."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    cases = ((document(3), False, False), (document(60), True, False), (document(2, "Ωμέγα ∑"), False, True))
    for doc, letter, full in cases:
        pdf.render(doc, letter=letter)  # the subset caches warm (a fresh subset carries a timestamp)
        ours = pdf._draw(doc, letter=letter, full_fonts=full)
        theirs = pdf._draw(doc, letter=letter, full_fonts=full)
        ours.set_creation_date(when)
        theirs.set_creation_date(when)
        mine = bytes(ours.output(output_producer_class=fontcache.OutputProducer))
        assert mine == bytes(theirs.output())
        assert mine.startswith(b"%PDF-")
