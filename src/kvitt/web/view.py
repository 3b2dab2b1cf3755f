"""What the web invoice shows, already formatted: the template only places values.

``invoice_view`` turns what ``service.find_issued`` read into plain strings in the chosen
language, with Swedish number and date conventions in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import segno
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from markupsafe import Markup

from kvitt.core.clock import STOCKHOLM
from kvitt.core.money import format_amount, milli_to_quantity
from kvitt.formats import swish_qr
from kvitt.invoices import states
from kvitt.web import messages as conversation
from kvitt.web.branding import page_brand
from kvitt.web.pay_links import pay_now_links
from kvitt.web.preferences import RECIPIENT_METHODS
from kvitt.web.service import WebInvoice
from kvitt.web.texts import LANGUAGES, LOCALES, TEXTS, TONES

TABS = ("faktura", "meddelanden", "installningar")


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
class Swish:
    qr_svg: Markup
    link: str
    content: str


@dataclass
class PaymentDetails:
    bankgiro: str | None
    plusgiro: str | None
    ocr: str | None
    amount: str
    due_date: str | None
    swish: Swish | None = None
    # Card and autogiro come with the payment-methods work: each adds itself here when the
    # tenant has it, so nothing is shown that cannot be used yet.
    other_methods: list[dict[str, str]] = field(default_factory=list)
    # "Dras via autogiro <date>" instead of the ways to pay (kvitt.autogiro debits it).
    autogiro_date: str | None = None


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
class Message:
    mine: bool
    author: str
    at: str
    at_iso: str
    text: str


@dataclass
class Settings:
    delivery_method: str
    methods: list[tuple[str, str]]
    email: str
    phone: str
    language: str


@dataclass
class InvoiceView:
    lang: str
    t: dict[str, Any]
    token: str
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
    # The offers and information area: the invoice's info blocks (consumption, contract end
    # date, news); the engagement work will add its offers here. Nothing when empty.
    info: list[dict[str, str]]
    messages: list[Message]
    settings: Settings | None
    has_pdf: bool
    tab: str
    urls: dict[str, str]
    # Autogiro signed with BankID (web/autogiro.py): url, label, text; None when not offered.
    autogiro: dict[str, str] | None = None
    # The engagement area's placements (kvitt.engagement via web.engagement); set by the page.
    engagement: list[Any] = field(default_factory=list)
    # The tenant's logo and brand stylesheet (web.branding.page_brand); None where it has none.
    logo_url: str | None = None
    brand_css_url: str | None = None


def masked_account(clearing: str, account: str) -> str:
    """A bank account as a recipient's page shows it: the clearing number and the last four digits."""
    return f"{clearing}-{'*' * max(0, len(account) - 4)}{account[-4:]}"


def language_of(found: WebInvoice, chosen: str | None = None) -> str:
    for language in (chosen, found.customer_language, found.invoice.buyer.get("language"), found.tenant.locale):
        if language in LANGUAGES:
            return str(language)
    return "sv"


def page_url(token: str, *, tab: str = "faktura", lang: str | None = None) -> str:
    query = {}
    if tab != "faktura":
        query["tab"] = tab
    if lang:
        query["lang"] = lang
    return f"/i/{token}" + (f"?{urlencode(query)}" if query else "")


def invoice_view(
    found: WebInvoice,
    *,
    tab: str = "faktura",
    chosen_lang: str | None = None,
    has_pdf: bool = False,
    autogiro: bool = False,
) -> InvoiceView:
    invoice, tenant = found.invoice, found.tenant
    lang = language_of(found, chosen_lang)
    t = TEXTS[lang]
    locale = LOCALES[lang]
    # Links keep a language the recipient picked; the customer's own needs no parameter.
    link_lang = chosen_lang if chosen_lang in LANGUAGES else None

    def money(ore: int) -> str:
        return kronor(ore, locale) if invoice.currency == "SEK" else format_amount(ore, locale, invoice.currency)

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
            swish=_swish(tenant.swish_number, invoice.remaining, invoice.ocr or number, t)
            if invoice.currency == "SEK"
            else None,
            autogiro_date=day(found.autogiro_on),
        )
    offer = _autogiro_offer(invoice.token, lang, link_lang) if autogiro and found.customer is not None else None
    if payment is not None and offer is not None and payment.autogiro_date is None:
        payment.other_methods.append({"url": offer["url"], "label": offer["label"]})

    if payment is not None and invoice.currency == "SEK":
        payment.other_methods[:0] = pay_now_links(tenant, invoice.token, lang, link_lang)

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
    other = t["other_language_code"]
    return InvoiceView(
        lang=lang,
        t=t,
        **page_brand(tenant),
        token=invoice.token,
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
        info=[{key: str(block.get(key) or "") for key in ("title", "text")} for block in invoice.info or []],
        messages=[_message(e, tenant.name, t, locale) for e in found.events if e.type in conversation.MESSAGE_TYPES],
        settings=_settings(found, t),
        has_pdf=has_pdf,
        tab=tab if tab in TABS else "faktura",
        urls={
            "faktura": page_url(invoice.token, lang=link_lang),
            "meddelanden": page_url(invoice.token, tab="meddelanden", lang=link_lang),
            "installningar": page_url(invoice.token, tab="installningar", lang=link_lang),
            "other_language": page_url(invoice.token, tab=tab if tab in TABS else "faktura", lang=other),
            "messages_post": f"/i/{invoice.token}/messages",
            "settings_post": f"/i/{invoice.token}/settings",
            "pdf": f"/i/{invoice.token}/pdf",
        },
        autogiro=offer,
    )


AUTOGIRO_OFFER = {
    "sv": {
        "label": "Autogiro med BankID",
        "text": "Låt fakturorna dras automatiskt från ditt konto på förfallodagen.",
    },
    "en": {
        "label": "Autogiro with BankID",
        "text": "Have your invoices debited from your account on their due date.",
    },
}


def _autogiro_offer(token: str, lang: str, link_lang: str | None) -> dict[str, str]:
    url = f"/i/{token}/autogiro" + (f"?lang={link_lang}" if link_lang else "")
    return {"url": url, **AUTOGIRO_OFFER.get(lang, AUTOGIRO_OFFER["sv"])}


# CLDR's minus sign per locale (Babel writes a hyphen; core.money swaps in the locale's own).
MINUS = {"sv_SE": "\u2212", "en_SE": "-"}


def kronor(ore: int, locale: str) -> str:
    """``format_amount(ore, locale, "SEK")`` without Babel's pattern parsing on every call: a page
    formats some thirty amounts, and Babel spends 0.1 ms on each. Both Swedish locales write
    ``1 234,50 kr`` (U+00A0 between groups and before kr); a test compares the two on random
    amounts."""
    whole, cents = divmod(abs(ore), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    sign = MINUS[locale] if ore < 0 else ""
    return f"{sign}{grouped},{cents:02d}\u00a0kr"


@lru_cache(maxsize=4096)
def qr_svg(content: str, label: str) -> Markup:
    """The QR code as inline SVG. Cached by content: finding the best mask takes ~8 ms, and an
    invoice's Swish content stays the same from view to view until it is paid."""
    svg = segno.make(content, error="m").svg_inline(scale=4, border=2, svgclass="qr", lineclass=None, omitsize=True)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" ', 1)
    return Markup(svg)  # noqa: S704 - segno's SVG of our own content; the label is escaped


def _swish(number: str | None, ore: int, message: str, t: dict[str, Any]) -> Swish | None:
    if not number:
        return None
    try:
        content = swish_qr.c_format(number, ore, message)
        link = swish_qr.app_link(number, ore, message)
    except swish_qr.SwishError:
        return None  # a Swish number the app would refuse: show the other ways to pay
    return Swish(qr_svg=qr_svg(content, t["swish_qr_label"]), link=link, content=content)


def _message(event: Any, issuer: str, t: dict[str, Any], locale: str) -> Message:
    out = conversation.message_out(event)
    mine = out["author"] == "recipient"
    at: datetime = out["created_at"]
    return Message(
        mine=mine,
        author=t["you"] if mine else issuer,
        at=format_datetime(at.astimezone(STOCKHOLM), "short", locale=locale),
        at_iso=at.isoformat(),
        text=out["text"],
    )


def _settings(found: WebInvoice, t: dict[str, Any]) -> Settings | None:
    customer = found.customer
    if customer is None:
        return None
    methods = list(RECIPIENT_METHODS)
    if customer.delivery_method not in methods:
        methods.append(customer.delivery_method)
    return Settings(
        delivery_method=customer.delivery_method,
        methods=[(m, t["methods"].get(m, m)) for m in methods],
        email=customer.email or "",
        phone=customer.phone or "",
        language=customer.language,
    )


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
