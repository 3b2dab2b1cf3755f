"""What the customer reads: email subject, plain text and HTML, and the SMS, in Swedish or English."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from kvitt.core.money import format_amount

LANGUAGES = ("sv", "en")
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,  # compiled once per process: no stat of the template file per message
)

WORDS = {
    "sv": {
        "greeting": "Hej",
        "amount": "Att betala",
        "due": "Förfallodag",
        "ocr": "OCR",
        "button": "Visa och betala fakturan",
        "more": "På fakturasidan kan du också ställa en fråga eller ändra hur du får dina fakturor.",
        "attached": "Fakturan finns också som PDF i det här mejlet.",
        "regards": "Med vänliga hälsningar",
    },
    "en": {
        "greeting": "Hello",
        "amount": "Amount due",
        "due": "Due date",
        "ocr": "OCR reference",
        "button": "View and pay the invoice",
        "more": "On the invoice page you can also ask a question or change how you receive invoices.",
        "attached": "The invoice is also attached to this email as a PDF.",
        "regards": "Kind regards",
    },
}


DEFAULT_ACCENT = "#1d4ed8"  # the button's blue when the tenant has no brand colour


@dataclass
class InvoiceFacts:
    """The few facts of an invoice a message tells."""

    issuer: str
    name: str
    number: int | None
    amount_ore: int
    due_date: str
    ocr: str | None
    bankgiro: str | None
    url: str
    reminder: bool = False
    credit_note: bool = False
    autogiro_date: str | None = None  # autogiro debits it on this day: no payment asked for
    # Offers and information for this recipient (kvitt.engagement): title, text, cta, link.
    placements: list[dict[str, str]] = field(default_factory=list)
    # The tenant's branding (tenants.branding): the logo's absolute address, the button colour.
    logo_url: str | None = None
    brand_color: str | None = None


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else "sv"


@functools.lru_cache(maxsize=4096)
def _template(name: str) -> Template:
    return _templates.get_template(name)


@functools.lru_cache(maxsize=4096)  # a billing run repeats a few prices; Babel formats each once
def amount_text(ore: int, lang: str) -> str:
    return format_amount(ore, "sv_SE" if lang == "sv" else "en_GB")


def subject(facts: InvoiceFacts, lang: str) -> str:
    if lang == "en":
        what = "Reminder: invoice" if facts.reminder else "Credit note" if facts.credit_note else "Invoice"
        return f"{what} {facts.number} from {facts.issuer}"
    what = "Påminnelse: faktura" if facts.reminder else "Kreditfaktura" if facts.credit_note else "Faktura"
    return f"{what} {facts.number} från {facts.issuer}"


def intro(facts: InvoiceFacts, lang: str) -> str:
    amount = amount_text(facts.amount_ore, lang)
    if lang == "en":
        if facts.reminder:
            return f"We have not yet received payment for invoice {facts.number}. This is a reminder."
        if facts.credit_note:
            return f"Here is credit note {facts.number} for {amount}."
        return f"Here is your invoice {facts.number}."
    if facts.reminder:
        return f"Vi har ännu inte fått betalt för faktura {facts.number}. Här är en påminnelse."
    if facts.credit_note:
        return f"Här är kreditfaktura {facts.number} på {amount}."
    return f"Här är din faktura {facts.number}."


def email_parts(facts: InvoiceFacts, lang: str, *, attached: bool) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the email."""
    lang = language_of(lang)
    title = subject(facts, lang)
    context = {
        "lang": lang,
        "t": WORDS[lang],
        "issuer": facts.issuer,
        "name": facts.name,
        "number": facts.number,
        "amount": amount_text(facts.amount_ore, lang),
        "due_date": facts.due_date,
        "ocr": facts.ocr or "",
        "bankgiro": facts.bankgiro,
        "url": facts.url,
        "reminder": facts.reminder,
        "credit_note": facts.credit_note,
        "autogiro_date": facts.autogiro_date,
        "placements": facts.placements,
        "logo_url": facts.logo_url,
        "accent": facts.brand_color or DEFAULT_ACCENT,
        "attached": attached,
        "subject": title,
        "heading": title,
        "intro": intro(facts, lang),
    }
    text = _template(f"email_{lang}.txt").render(context)
    html = _template("email.html").render(context)
    return title, text, html


SMS_CTA_LENGTH = 40  # an offer's call to action in an SMS, cut to this many characters


def sms_text(facts: InvoiceFacts, lang: str) -> str:
    """One SMS (160 GSM characters fit a link and the essentials; the web invoice has the rest),
    and an engagement offer's short call to action with its click link after it, in any SMS
    about an invoice (then two parts: an offer is worth the second)."""
    text = _sms_invoice_text(facts, language_of(lang))
    offer = next((p for p in facts.placements if p.get("link")), None)
    if offer is None:
        return text
    cta = " ".join(offer["cta"].split())  # one line: no line breaks from the placement's text
    if len(cta) > SMS_CTA_LENGTH:
        cta = cta[: SMS_CTA_LENGTH - 3].rstrip() + "..."  # "…" is not GSM 03.38: the SMS would go UCS-2
    return f"{text}\n{cta}: {offer['link']}"


def _sms_invoice_text(facts: InvoiceFacts, lang: str) -> str:
    amount = amount_text(facts.amount_ore, lang)
    if lang == "en":
        if facts.reminder:
            return f"{facts.issuer}: reminder, invoice {facts.number}, {amount}, was due {facts.due_date}. {facts.url}"
        if facts.credit_note:
            return f"{facts.issuer}: credit note {facts.number}, {amount}. {facts.url}"
        return f"{facts.issuer}: invoice {facts.number}, {amount}, due {facts.due_date}. {facts.url}"
    if facts.reminder:
        return f"{facts.issuer}: påminnelse, faktura {facts.number}, {amount}, förföll {facts.due_date}. {facts.url}"
    if facts.credit_note:
        return f"{facts.issuer}: kreditfaktura {facts.number}, {amount}. {facts.url}"
    return f"{facts.issuer}: faktura {facts.number}, {amount}, förfaller {facts.due_date}. {facts.url}"
