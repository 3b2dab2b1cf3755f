"""The recipient's own pages, ``/m/<token>`` ("mina sidor"), reached by a magic link.

- ``POST /i/{token}/mina-sidor`` (a form on every web invoice, with its CSRF token): send a link
  by email to the customer's address on file, or (``via=sms``) by SMS to the phone on file
  (``engagement.recipient.send_link``, rate-limited per customer); the answer is the same
  whether or not an address or number exists and whether or not the limit was reached, so the
  page confirms nothing about the customer. No number or address is ever taken from the form.
- ``GET /m/{token}``: every invoice with this issuer, open and paid, each with its web invoice
  (payments, messages, delivery settings, autogiro) and its PDF, and the same engagement area as
  the web invoice (impressions counted on the newest invoice, after the answer).
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kvitt.core.config import web_base_url
from kvitt.core.db import Database, utcnow
from kvitt.engagement import recipient
from kvitt.invoices.models import Invoice
from kvitt.web import engagement as web_engagement
from kvitt.web import service, visits
from kvitt.web.branding import page_brand
from kvitt.web.texts import LANGUAGES, LOCALES, TEXTS
from kvitt.web.view import kronor, masked_account, page_url

MYPAGES_PURPOSE = "mypages"
router = APIRouter(include_in_schema=False)

WORDS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Mina sidor",
        "intro": "Alla dina fakturor från {issuer}.",
        "number": "Faktura",
        "date": "Datum",
        "amount": "Belopp",
        "left": "Kvar att betala",
        "state": "Status",
        "open": "Visa",
        "pdf": "PDF",
        "settings": "Dina inställningar (e-post, sms, papper, autogiro)",
        "messages": "Meddelanden",
        "none": "Inga fakturor ännu.",
        "payments": "Dina betalningar",
        "payments_caption": "Betalningar till {issuer}, senaste först",
        "paid_on": "Betald",
        "method": "Sätt",
        "for": "Fakturor",
        "no_payments": "Inga betalningar ännu.",
        "held": "Tillgodo hos {issuer}",
        "mandates": "Autogiro",
        "mandate_account": "Bankkonto",
        "mandate_state": "Status",
        "no_mandates": "Du har inget autogiromedgivande.",
    },
    "en": {
        "title": "Your pages",
        "intro": "All your invoices from {issuer}.",
        "number": "Invoice",
        "date": "Date",
        "amount": "Amount",
        "left": "Left to pay",
        "state": "Status",
        "open": "View",
        "pdf": "PDF",
        "settings": "Your settings (email, text message, paper, autogiro)",
        "messages": "Messages",
        "none": "No invoices yet.",
        "payments": "Your payments",
        "payments_caption": "Payments to {issuer}, newest first",
        "paid_on": "Paid",
        "method": "Method",
        "for": "Invoices",
        "no_payments": "No payments yet.",
        "held": "Held for you by {issuer}",
        "mandates": "Autogiro",
        "mandate_account": "Bank account",
        "mandate_state": "Status",
        "no_mandates": "You have no autogiro mandate.",
    },
}
# How the payment came (its ``source``) and the mandate's state, in the recipient's words.
METHODS: dict[str, dict[str, str]] = {
    "sv": {
        "bankgiro": "Bankgiro",
        "swish": "Swish",
        "card": "Kort",
        "autogiro": "Autogiro",
        "manual": "Registrerad av {issuer}",
        "api": "Registrerad av {issuer}",
    },
    "en": {
        "bankgiro": "Bankgiro",
        "swish": "Swish",
        "card": "Card",
        "autogiro": "Autogiro",
        "manual": "Registered by {issuer}",
        "api": "Registered by {issuer}",
    },
}
MANDATE_STATES: dict[str, dict[str, str]] = {
    "sv": {
        "pending": "Väntar på banken",
        "sent": "Skickat till banken",
        "active": "Aktivt",
        "rejected": "Avvisat av banken",
        "cancelled": "Avslutat",
    },
    "en": {
        "pending": "Waiting for the bank",
        "sent": "Sent to the bank",
        "active": "Active",
        "rejected": "Refused by the bank",
        "cancelled": "Ended",
    },
}


@router.post("/i/{token}/mina-sidor")
async def ask_for_link(token: str, request: Request) -> Response:
    from kvitt.web.routes import read_form

    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(_ask_for_link, request, token, form)


def _ask_for_link(request: Request, token: str, form: dict[str, str]) -> Response:
    from kvitt.web.routes import _trusted, not_found

    database: Database = request.app.state.db
    with database.transaction() as session:
        found = service.find_issued(session, token)
        if found is None:
            return not_found()
        visit = visits.visit_of(session, found.tenant.id, found.invoice.id)
        done = "refused"
        if _trusted(request, visit, MYPAGES_PURPOSE, form):
            base = web_base_url(request.app.state.settings)
            via = recipient.SMS if form.get("via") == recipient.SMS else recipient.EMAIL
            recipient.send_link(session, found.tenant, found.invoice, base_url=base, now=utcnow(), channel=via)
            # the same answer with or without an address or phone on file, limited or not
            done = "mypages_sms" if via == recipient.SMS else "mypages"
    lang = form.get("lang") if form.get("lang") in LANGUAGES else None
    url = page_url(token, lang=lang)
    url += ("&" if "?" in url else "?") + f"done={done}#mina-sidor"
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/m/{token}")
def my_pages(token: str, request: Request) -> Response:
    from kvitt.web.routes import PAGE_HEADERS, html_response, not_found, render

    database: Database = request.app.state.db
    now = utcnow()
    with database.read() as session:
        opened = recipient.open_link(session, token, now)
        if opened is None:
            return not_found()
        lang = request.query_params.get("lang") or opened.customer.language
        lang = lang if lang in LANGUAGES else "sv"
        newest = opened.invoices[0] if opened.invoices else None
        shown = []
        if newest is not None:
            found = service.WebInvoice(invoice=newest, tenant=opened.tenant, events=[], customer=opened.customer)
            shown = web_engagement.shown(session, found, lang, now)
        paid = recipient.payments_of(session, opened.tenant.id, opened.customer.id)
        mandates = recipient.mandates_of(session, opened.tenant.id, opened.customer.id)
    rows = [_row(invoice, lang) for invoice in opened.invoices]
    context = {
        "lang": lang,
        "t": TEXTS[lang],
        "w": WORDS[lang],
        "issuer": opened.tenant.name,
        **page_brand(opened.tenant),
        "customer": opened.customer.name,
        "rows": rows,
        "payments": [_payment(item, lang, opened.tenant.name) for item in paid],
        "mandates": [_mandate(item, lang) for item in mandates],
        "newest": newest.token if newest else None,
        "items": shown,
        "open_states": recipient.OPEN,
    }
    response = html_response(request, render("my_pages.html", context))
    response.headers.update({**PAGE_HEADERS, "Cache-Control": "no-store"})
    if newest is not None and shown:
        response.background = web_engagement.with_impressions(None, database, newest, shown, now)
    return response


def _payment(item: recipient.PaymentShown, lang: str, issuer: str) -> dict[str, object]:
    methods = METHODS[lang]
    link_lang = lang if lang != "sv" else None
    return {
        "date": format_date(item.day, "short", locale=LOCALES[lang]),
        "amount": kronor(item.amount, LOCALES[lang]),
        "method": methods.get(item.method, methods["manual"]).replace("{issuer}", issuer),
        "invoices": [{"number": number, "url": page_url(token, lang=link_lang)} for number, token in item.invoices],
    }


def _mandate(item: recipient.MandateShown, lang: str) -> dict[str, str]:
    states = MANDATE_STATES[lang]
    return {
        "state": states.get(item.status, item.status),
        "state_key": item.status,
        "account": masked_account(item.clearing, item.account),
    }


def _row(invoice: Invoice, lang: str) -> dict[str, str | None]:
    locale = LOCALES[lang]
    day: date | None = invoice.invoice_date
    return {
        "number": str(invoice.number or ""),
        "date": format_date(day, "short", locale=locale) if day else "",
        "amount": kronor(invoice.total, locale),
        "left": kronor(invoice.remaining, locale) if invoice.state in recipient.OPEN else None,
        "state": TEXTS[lang]["states"].get(invoice.state, invoice.state),
        "state_key": invoice.state,
        "url": page_url(invoice.token, lang=lang if lang != "sv" else None),
        "pdf": f"/i/{invoice.token}/pdf",
        "token": invoice.token,
    }
