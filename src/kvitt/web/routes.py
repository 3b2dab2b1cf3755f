"""The recipient's web invoice, ``GET /i/{token}``: server-rendered, read only, no JavaScript.

The page is built in two steps so that later pages (tabs, messages, settings) can reuse them:
``service.find_issued`` reads, and ``invoice_view`` turns what was read into plain, already
formatted values for the template. Nothing is written: the transaction a GET opens is rolled
back when its session closes.

Every answer carries headers for a page whose address is a secret: no caching, no Referer
(the token must not leak to other sites), no indexing, and a Content-Security-Policy that
allows only the inline stylesheet, by its hash.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from kvitt.core.db import Database
from kvitt.core.money import format_amount, milli_to_quantity
from kvitt.invoices import states
from kvitt.web import service
from kvitt.web.service import WebInvoice

HERE = Path(__file__).parent
LANGUAGES = ("sv", "en")
# Swedish conventions (kronor with a decimal comma, ISO dates) in either language.
LOCALES = {"sv": "sv_SE", "en": "en_SE"}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
CSS = (HERE / "static" / "kvitt.css").read_text(encoding="utf-8")
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{CSS_HASH}'; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}

TEXTS: dict[str, dict[str, Any]] = {
    "sv": {
        "skip": "Hoppa till innehållet",
        "invoice": "Faktura",
        "credit_note": "Kreditfaktura",
        "summary": "Sammanfattning",
        "amount_to_pay": "Att betala",
        "amount": "Belopp",
        "due_date": "Förfallodatum",
        "invoice_date": "Fakturadatum",
        "invoice_number": "Fakturanummer",
        "customer_number": "Kundnummer",
        "credits_invoice": "Krediterar faktura",
        "status": "Status",
        "how_to_pay": "Så betalar du",
        "plusgiro": "Plusgiro",
        "ocr": "OCR-nummer",
        "ocr_hint": "Ange OCR-numret som referens när du betalar, så kommer betalningen rätt.",
        "specification": "Specifikation",
        "lines": "Fakturarader, priser exklusive moms",
        "description": "Beskrivning",
        "quantity": "Antal",
        "unit_price": "À-pris",
        "line_net": "Summa",
        "discount": "Rabatt",
        "vat_caption": "Moms per momssats",
        "vat_rate": "Momssats",
        "vat_basis": "Underlag",
        "vat": "Moms",
        "totals": "Summering",
        "net_total": "Summa exklusive moms",
        "rounding": "Öresavrundning",
        "total": "Totalt",
        "paid": "Betalt",
        "credited": "Krediterat",
        "written_off": "Avskrivet",
        "remaining": "Kvar att betala",
        "payments": "Mottagna betalningar",
        "payment_date": "Datum",
        "billed_to": "Fakturamottagare",
        "information": "Information",
        "issuer": "Fakturautställare",
        "org_number": "Org.nr",
        "vat_number": "Momsreg.nr",
        "f_skatt": "Godkänd för F-skatt",
        "states": {
            states.UNPAID: "Obetald",
            states.PARTLY_PAID: "Delvis betald",
            states.OVERDUE: "Förfallen",
            states.IN_COLLECTION: "Hos inkasso",
            states.PAID: "Betald",
            states.CREDITED: "Krediterad",
            states.WRITTEN_OFF: "Avskriven",
        },
        "messages": {
            states.OVERDUE: "Förfallodatumet har passerat. Betala så snart du kan.",
            states.IN_COLLECTION: "Fakturan har lämnats till inkasso.",
            states.PAID: "Fakturan är betald. Tack!",
            states.CREDITED: "Fakturan är krediterad. Du behöver inte betala något.",
            states.WRITTEN_OFF: "Det finns inget kvar att betala på fakturan.",
            "credit_note": "Det här är en kreditfaktura. Du behöver inte betala något.",
        },
    },
    "en": {
        "skip": "Skip to content",
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "summary": "Summary",
        "amount_to_pay": "Amount to pay",
        "amount": "Amount",
        "due_date": "Due date",
        "invoice_date": "Invoice date",
        "invoice_number": "Invoice number",
        "customer_number": "Customer number",
        "credits_invoice": "Credits invoice",
        "status": "Status",
        "how_to_pay": "How to pay",
        "plusgiro": "Plusgiro",
        "ocr": "OCR reference",
        "ocr_hint": "Give the OCR reference when you pay, so that your payment is matched to this invoice.",
        "specification": "Specification",
        "lines": "Invoice lines, prices excluding VAT",
        "description": "Description",
        "quantity": "Quantity",
        "unit_price": "Unit price",
        "line_net": "Amount",
        "discount": "Discount",
        "vat_caption": "VAT by rate",
        "vat_rate": "VAT rate",
        "vat_basis": "Basis",
        "vat": "VAT",
        "totals": "Totals",
        "net_total": "Total excluding VAT",
        "rounding": "Rounding",
        "total": "Total",
        "paid": "Paid",
        "credited": "Credited",
        "written_off": "Written off",
        "remaining": "Left to pay",
        "payments": "Payments received",
        "payment_date": "Date",
        "billed_to": "Billed to",
        "information": "Information",
        "issuer": "Issued by",
        "org_number": "Company reg. no.",
        "vat_number": "VAT reg. no.",
        "f_skatt": "Approved for F-tax",
        "states": {
            states.UNPAID: "Unpaid",
            states.PARTLY_PAID: "Partly paid",
            states.OVERDUE: "Overdue",
            states.IN_COLLECTION: "With debt collection",
            states.PAID: "Paid",
            states.CREDITED: "Credited",
            states.WRITTEN_OFF: "Written off",
        },
        "messages": {
            states.OVERDUE: "The due date has passed. Please pay as soon as you can.",
            states.IN_COLLECTION: "This invoice has been passed to debt collection.",
            states.PAID: "This invoice is paid. Thank you!",
            states.CREDITED: "This invoice has been credited. There is nothing to pay.",
            states.WRITTEN_OFF: "There is nothing left to pay on this invoice.",
            "credit_note": "This is a credit note. There is nothing to pay.",
        },
    },
}
# How a state looks: a colour class for the badge (the word carries the meaning, not the colour).
TONES = {
    states.UNPAID: "open",
    states.PARTLY_PAID: "open",
    states.OVERDUE: "late",
    states.IN_COLLECTION: "late",
    states.PAID: "done",
    states.CREDITED: "done",
    states.WRITTEN_OFF: "done",
}

router = APIRouter(include_in_schema=False)


@router.get("/i/{token}", response_class=HTMLResponse)
def invoice_page(token: str, request: Request) -> HTMLResponse:
    database: Database = request.app.state.db
    with database.sessions() as session:
        found = service.find_issued(session, token)
        if found is None:
            return not_found()
        html = render("invoice.html", invoice_view(found))
    return HTMLResponse(html, headers=PAGE_HEADERS)


def not_found() -> HTMLResponse:
    """The one answer for an unknown, malformed or draft token: it confirms nothing."""
    return HTMLResponse(_not_found_html(), status_code=404, headers=PAGE_HEADERS)


@cache
def _not_found_html() -> str:
    return render("not_found.html", {"lang": "sv", "t": TEXTS["sv"]})


def render(name: str, context: dict[str, Any]) -> str:
    return templates.get_template(name).render(css=Markup(CSS), **context)  # noqa: S704 - our own file


# --- the view: what the template shows, formatted ------------------------------------------------


@dataclass
class Line:
    description: str
    quantity: str
    unit_price: str
    net: str
    discount: str | None


@dataclass
class VatRow:
    rate: str
    basis: str
    vat: str


@dataclass
class Payment:
    on: str
    amount: str


@dataclass
class PaymentDetails:
    bankgiro: str | None
    plusgiro: str | None
    ocr: str | None
    amount: str
    due_date: str | None


@dataclass
class Party:
    name: str
    address: list[str]
    org_number: str | None = None
    vat_number: str | None = None
    f_skatt: bool = False
    email: str | None = None
    phone: str | None = None
    customer_no: str | None = None


@dataclass
class InvoiceView:
    lang: str
    t: dict[str, Any]
    title: str
    is_credit_note: bool
    number: str
    issuer: Party
    buyer: Party
    amount_label: str
    amount: str
    invoice_date: str | None
    due_date: str | None
    state: str | None
    tone: str
    message: str | None
    credits_number: str | None
    payment: PaymentDetails | None
    lines: list[Line]
    vat_rows: list[VatRow]
    totals: list[tuple[str, str]]
    total: str
    result: list[tuple[str, str]]
    payments: list[Payment]
    info: list[dict[str, str]] = field(default_factory=list)


def language_of(found: WebInvoice) -> str:
    for language in (found.invoice.buyer.get("language"), found.tenant.locale):
        if language in LANGUAGES:
            return str(language)
    return "sv"


def invoice_view(found: WebInvoice) -> dict[str, Any]:
    invoice, tenant = found.invoice, found.tenant
    lang = language_of(found)
    t = TEXTS[lang]
    locale = LOCALES[lang]

    def money(ore: int) -> str:
        return format_amount(ore, locale, invoice.currency)

    def day(value: date | None) -> str | None:
        return format_date(value, "short", locale=locale) if value else None

    credit_note = invoice.kind == "credit_note"
    is_open = not credit_note and invoice.state in states.OPEN_STATES and invoice.remaining > 0
    number = str(invoice.number) if invoice.number is not None else ""
    payment = None
    if is_open:
        payment = PaymentDetails(
            bankgiro=tenant.bankgiro,
            plusgiro=tenant.plusgiro,
            ocr=invoice.ocr,
            amount=money(invoice.remaining),
            due_date=day(invoice.due_date),
        )

    totals = [(t["net_total"], money(invoice.net)), (t["vat"], money(invoice.vat))]
    if invoice.rounding:
        totals.append((t["rounding"], money(invoice.rounding)))
    settled = [
        (t["paid"], invoice.paid),
        (t["credited"], invoice.credited),
        (t["written_off"], invoice.written_off),
    ]
    result = [(label, money(-amount)) for label, amount in settled if amount]
    if result:
        result.append((t["remaining"], money(invoice.remaining)))

    buyer = invoice.buyer
    view = InvoiceView(
        lang=lang,
        t=t,
        title=f"{t['credit_note' if credit_note else 'invoice']} {number}".strip(),
        is_credit_note=credit_note,
        number=number,
        issuer=Party(
            name=tenant.name,
            address=_address(
                tenant.address_line1, tenant.address_line2, tenant.postal_code, tenant.city, tenant.country
            ),
            org_number=tenant.org_number,
            vat_number=tenant.vat_number,
            f_skatt=tenant.f_skatt,
            email=tenant.email,
            phone=tenant.phone,
        ),
        buyer=Party(
            name=str(buyer.get("name") or ""),
            address=_address(
                buyer.get("address_line1"),
                buyer.get("address_line2"),
                buyer.get("postal_code"),
                buyer.get("city"),
                buyer.get("country"),
            ),
            customer_no=buyer.get("customer_no"),
        ),
        amount_label=t["amount_to_pay"] if is_open else t["amount"],
        amount=money(invoice.remaining if is_open else invoice.total),
        invoice_date=day(invoice.invoice_date),
        due_date=None if credit_note else day(invoice.due_date),
        state=None if credit_note else t["states"].get(invoice.state, invoice.state),
        tone="info" if credit_note else TONES.get(invoice.state, "open"),
        message=t["messages"].get("credit_note" if credit_note else invoice.state),
        credits_number=str(found.credited_number) if found.credited_number is not None else None,
        payment=payment,
        lines=[
            Line(
                description=line.description,
                quantity=_quantity(line.quantity_milli, line.unit, locale),
                unit_price=money(line.unit_price),
                net=money(line.net),
                discount=_percent(Decimal(line.discount_bp) / 100, locale) if line.discount_bp else None,
            )
            for line in invoice.lines
        ],
        vat_rows=[
            VatRow(rate=_percent(Decimal(g["rate"]), locale), basis=money(g["net"]), vat=money(g["vat"]))
            for g in invoice.vat_summary
        ],
        totals=totals,
        total=money(invoice.total),
        result=result,
        payments=[
            Payment(on=day(date.fromisoformat(e.data["date"])) or "", amount=money(int(e.data["amount"])))
            for e in found.events
            if e.type == "payment" and e.data.get("date") and e.data.get("amount") is not None
        ],
        info=[
            {"title": str(block.get("title") or ""), "text": str(block.get("text") or "")}
            for block in invoice.info or []
        ],
    )
    return {"lang": lang, "t": t, "p": view}


def _address(*parts: str | None) -> list[str]:
    line1, line2, postal_code, city, country = parts
    place = " ".join(p for p in (postal_code, city) if p)
    lines = [p for p in (line1, line2, place) if p]
    if country and country != "SE":
        lines.append(country)
    return lines


def _quantity(milli: int, unit: str | None, locale: str) -> str:
    text = format_decimal(milli_to_quantity(milli), locale=locale)
    return f"{text}\u00a0{unit}" if unit else text


def _percent(value: Decimal, locale: str) -> str:
    return f"{format_decimal(value.normalize(), locale=locale)}\u00a0%"
