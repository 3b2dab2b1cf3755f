"""Pay on the spot from the web invoice: Swish and card (docs/payments.md).

- ``GET /i/{token}/betala``: the choice: Swish on this phone (the app opens), Swish to a mobile
  number (e-commerce: the payer approves in the app), or card.
- ``POST /i/{token}/betala``: makes a payment request (``checkout.service.create_request``: the
  amount is what is left on the invoice) and answers with a redirect to its page.
- ``GET /i/{token}/betala/{id}``: the request's page: the Swish button and QR code, or the link
  to the card page; "Betald" once the payment is booked; why a payment did not go through, with
  the other ways to pay. Without JavaScript it reloads itself every 3 seconds (``<noscript>``
  refresh); with it, htmx fetches ``.../status`` every 2 seconds and reloads the page when the
  request has ended.

The form carries the invoice's form token (purpose ``pay``); a cross-site Origin is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kvitt.checkout import service as checkout
from kvitt.checkout.models import PaymentRequest
from kvitt.core.config import get_settings, web_base_url
from kvitt.core.db import Database
from kvitt.core.errors import KvittError
from kvitt.formats import swish_commerce
from kvitt.web import visits
from kvitt.web.branding import page_brand
from kvitt.web.invoice_pages import InvoicePage, chosen_language, load_page, reload_whole_page
from kvitt.web.pay_links import TEXTS_PAY, methods_for, pay_url
from kvitt.web.routes import _trusted, html_response, not_found, read_form, render
from kvitt.web.texts import LOCALES, TEXTS
from kvitt.web.view import kronor, page_url, qr_svg

PURPOSE = "pay"
ACTOR = "web"
router = APIRouter(include_in_schema=False)


def _context(page: InvoicePage, **extra: Any) -> dict[str, Any]:
    invoice = page.found.invoice
    return {
        "lang": page.lang,
        "t": TEXTS[page.lang],
        "p": TEXTS_PAY[page.lang],
        "issuer": page.found.tenant.name,
        **page_brand(page.found.tenant),
        "number": invoice.number,
        "amount": kronor(invoice.remaining, LOCALES[page.lang]),
        "invoice_url": page_url(invoice.token, lang=page.chosen),
        "choose_url": pay_url(invoice.token, page.chosen),
        "post_url": f"/i/{invoice.token}/betala",
        "form_token": visits.form_token(page.visit, PURPOSE),
        "chosen_lang": page.chosen or "",
        "methods": methods_for(page.found.tenant),
        "open": invoice.kind == "invoice" and invoice.remaining > 0 and invoice.state not in ("paid", "credited"),
        "error": None,
        "phone": None,
        "refresh": False,
        **extra,
    }


# --- the choice ------------------------------------------------------------------------------------


@router.get("/i/{token}/betala")
def choose(token: str, request: Request) -> Response:
    page = load_page(request, token, chosen_language(request.query_params.get("lang")))
    if page is None:
        return not_found()
    return html_response(request, render("pay.html", _context(page)))


@router.post("/i/{token}/betala")
async def start(token: str, request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(_start, request, token, form)


def _start(request: Request, token: str, form: dict[str, str]) -> Response:
    page = load_page(request, token, chosen_language(form.get("lang")))
    if page is None:
        return not_found()
    texts = TEXTS_PAY[page.lang]
    method = form.get("method", "")
    if not _trusted(request, page.visit, PURPOSE, form) or method not in methods_for(page.found.tenant):
        return html_response(request, render("pay.html", _context(page, error=texts["refused"])), 400)
    asked = checkout.Asked(method, (form.get("phone") or "").strip() or None)
    database: Database = request.app.state.db
    try:
        with database.transaction() as session:
            made = checkout.create_request(
                session,
                page.found.tenant,
                page.found.invoice.id,
                asked,
                callback_base=web_base_url(request.app.state.settings),
                actor=ACTOR,
            )
            request_id = made.id
    except KvittError as exc:
        reason = texts["bad_phone"] if exc.param == "payer_alias" else texts["nothing_to_pay"]
        if exc.code not in ("invoice_paid", "invoice_credited", "invoice_written_off") and exc.param != "payer_alias":
            reason = texts["refused"]
        return html_response(request, render("pay.html", _context(page, error=reason, phone=asked.payer_alias)), 422)
    url = f"/i/{token}/betala/{request_id}" + (f"?lang={page.chosen}" if page.chosen else "")
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


# --- following a request ---------------------------------------------------------------------------


@router.get("/i/{token}/betala/{request_id}")
def follow(token: str, request_id: int, request: Request) -> Response:
    return _follow(request, token, request_id, fragment=False)


@router.get("/i/{token}/betala/{request_id}/status")
def follow_status(token: str, request_id: int, request: Request) -> Response:
    return _follow(request, token, request_id, fragment=True)


def _follow(request: Request, token: str, request_id: int, *, fragment: bool) -> Response:
    page = load_page(request, token, chosen_language(request.query_params.get("lang")))
    if page is None:
        return not_found()
    database: Database = request.app.state.db
    with database.read() as session:
        found = checkout.find_for_invoice(session, page.found.tenant.id, page.found.invoice.id, request_id)
    if found is None:
        return not_found()
    context = _context(page, **_request_context(request, page, found))
    shown_ready = request.query_params.get("ready") == "1"
    if fragment and (found.state != "created" or context["ready"] != shown_ready):
        # The request has ended, or its Swish button / card link has come: the whole page
        # shows it (htmx reloads the page).
        return reload_whole_page()
    return html_response(request, render("pay_status.html" if fragment else "pay_follow.html", context))


def _request_context(request: Request, page: InvoicePage, found: PaymentRequest) -> dict[str, Any]:
    texts = TEXTS_PAY[page.lang]
    token = page.found.invoice.token
    here = f"/i/{token}/betala/{found.id}" + (f"?lang={page.chosen}" if page.chosen else "")
    context: dict[str, Any] = {
        "request": found,
        "paid_amount": kronor(found.paid_amount or found.amount, LOCALES[page.lang]),
        "refresh": found.state == "created",
        "message": None,
    }
    if found.state == "created":
        base = web_base_url(request.app.state.settings)
        if found.method == "swish" and found.provider_token:
            context["swish_link"] = (
                f"swish://paymentrequest?token={found.provider_token}&callbackurl={quote(base + here, safe='')}"
            )
            context["swish_qr"] = qr_svg("D" + found.provider_token, texts["swish_qr"])
        elif found.method == "card" and found.provider_reference:
            card_page = get_settings().stripe_card_page or ""
            context["card_link"] = f"{card_page}/{found.provider_reference}?return_url={quote(base + here, safe='')}"
        if found.method == "swish" and found.payer_alias:
            context["message"] = texts["swish_approve"].format(phone=_shown_phone(found.payer_alias))
        elif found.method == "card" and found.provider_reference:
            context["message"] = texts["card_waiting"]
        elif not (found.method == "swish" and found.provider_token):
            context["message"] = texts["preparing"]
    elif found.state == "paid":
        context["message"] = texts["paid"]
    elif found.state in ("cancelled", "expired"):
        context["message"] = texts["ended"]
    else:
        context["message"] = why_not(found, page.lang)
    context["ready"] = "swish_link" in context or "card_link" in context
    query = [f"lang={page.chosen}"] if page.chosen else []
    context["status_url"] = f"/i/{token}/betala/{found.id}/status?" + "&".join(
        [*query, f"ready={int(context['ready'])}"]
    )
    return context


def why_not(found: PaymentRequest, lang: str) -> str:
    """Why a payment did not go through, in plain words."""
    texts = TEXTS_PAY[lang]
    if found.method == "swish":
        return swish_commerce.explain(found.error_code, lang)
    return texts.get(found.error_code or "", texts["card_declined" if found.state == "declined" else "card_failed"])


def _shown_phone(alias: str) -> str:
    return "0" + alias[2:] if alias.startswith("46") else "+" + alias
