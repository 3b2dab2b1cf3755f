"""Autogiro on the web invoice: the payer signs a mandate with BankID (docs/bankid.md).

- ``GET /i/{token}/autogiro``: the sign-up (clearing and account number), or the mandate the
  customer already has, or a line saying it is not available (no BankID configured).
- ``POST /i/{token}/autogiro``: starts a BankID sign order (``kvitt.bankid.service.start``) and
  answers with a redirect to the order's page.
- ``GET /i/{token}/autogiro/{order}``: the order's page: the animated QR code (for BankID on
  another device), the autostart link (BankID on this device), BankID's message for the
  current hint code, and a cancel button. Each view collects the order at BankID when two
  seconds have passed since the last collect (``bankid.service.poll``). Without JavaScript the
  page reloads itself every second (``<noscript>`` refresh); with it, htmx fetches
  ``.../status`` every second and swaps in a fresh QR code and message, and reloads the page
  when the order has ended.
- ``POST /i/{token}/autogiro/{order}/cancel``: cancels the order at BankID.

The forms carry the invoice's form token (purpose ``autogiro``) and a cross-site Origin is
refused, as on the rest of the web invoice.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlencode

import segno
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from kvitt.autogiro import service as autogiro
from kvitt.bankid import messages as bankid_messages
from kvitt.bankid import service as signing
from kvitt.bankid.client import BankIDClient, BankIDError, BankIDNotConfigured
from kvitt.bankid.models import SignOrder
from kvitt.bankid.qr import autostart_url, qr_data, seconds_since
from kvitt.core.db import Database, utcnow
from kvitt.core.errors import KvittError
from kvitt.web import visits
from kvitt.web.branding import page_brand
from kvitt.web.invoice_pages import InvoicePage, chosen_language, load_page, reload_whole_page
from kvitt.web.routes import _trusted, html_response, not_found, read_form, render
from kvitt.web.texts import TEXTS
from kvitt.web.view import masked_account, page_url

PURPOSE = "autogiro"
router = APIRouter(include_in_schema=False)
log = structlog.get_logger("kvitt.web.autogiro")

TEXTS_AG: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Autogiro",
        "intro": "Betala dina fakturor från {issuer} automatiskt: beloppet dras från ditt konto på förfallodagen. "
        "Du godkänner medgivandet med BankID.",
        "clearing": "Clearingnummer",
        "clearing_hint": "4 siffror (Swedbank: 5 siffror, 8xxx-x)",
        "account": "Kontonummer",
        "account_hint": "Utan clearingnumret",
        "start": "Signera med BankID",
        "not_available": "Autogiro med BankID går inte att teckna här just nu. Kontakta {issuer}.",
        "has_mandate": "Du har ett medgivande för autogiro från konto {account}.",
        "status_pending": "Det skickas till din bank för godkännande.",
        "status_sent": "Det väntar på godkännande av din bank.",
        "status_active": "Det är godkänt: dina fakturor dras via autogiro på förfallodagen.",
        "sign_title": "Signera med BankID",
        "open_app": "Öppna BankID-appen",
        "other_device": "BankID på en annan enhet? Starta appen och skanna QR-koden.",
        "scan": "Starta BankID-appen i din mobil, välj Skanna QR-kod och rikta kameran mot koden.",
        "this_device": "BankID på den här enheten",
        "qr_label": "QR-kod för BankID",
        "signing_for": "Du signerar ett medgivande till autogiro från konto {account} till {issuer}.",
        "cancel": "Avbryt",
        "done": "Klart! Medgivandet är signerat och skickas till din bank. Autogiro börjar när banken har godkänt det.",
        "again": "Försök igen",
        "back": "Tillbaka till fakturan",
        "errors_title": "Rätta följande:",
        "mandate_exists": "Det finns redan ett medgivande för autogiro för dig.",
        "personal_number_mismatch": (
            "Medgivandet skrevs under med ett annat BankID än kundens. Den som är kund och kontohavare "
            "behöver skriva under."
        ),
        "personal_number_missing": "Underskriften kunde inte kontrolleras. Försök igen.",
        "signature_missing": "Underskriften kunde inte kontrolleras. Försök igen.",
        "signature_invalid": "Underskriften kunde inte kontrolleras. Försök igen.",
        "signature_mismatch": "Underskriften kunde inte kontrolleras. Försök igen.",
        "ocsp_missing": "Underskriften kunde inte kontrolleras. Försök igen.",
        "invalid_clearing": "Ange ett clearingnummer med 4 siffror (Swedbank: 5 siffror).",
        "invalid_account": "Ange kontonumret, 1–12 siffror, utan clearingnumret.",
        "no_customer": "Den här fakturan har ingen kund som kan teckna autogiro.",
    },
    "en": {
        "title": "Autogiro (direct debit)",
        "intro": "Pay your invoices from {issuer} automatically: the amount is debited from your account on "
        "the due date. You approve the mandate with BankID.",
        "clearing": "Clearing number",
        "clearing_hint": "4 digits (Swedbank: 5 digits, 8xxx-x)",
        "account": "Account number",
        "account_hint": "Without the clearing number",
        "start": "Sign with BankID",
        "not_available": "Autogiro with BankID cannot be set up here just now. Please contact {issuer}.",
        "has_mandate": "You have an autogiro mandate from account {account}.",
        "status_pending": "It is being sent to your bank for approval.",
        "status_sent": "It is waiting for your bank's approval.",
        "status_active": "It is approved: your invoices are debited by autogiro on their due date.",
        "sign_title": "Sign with BankID",
        "open_app": "Open the BankID app",
        "other_device": "BankID on another device? Start the app and scan the QR code.",
        "scan": "Start the BankID app on your phone, choose Scan QR code and point the camera at the code.",
        "this_device": "BankID on this device",
        "qr_label": "QR code for BankID",
        "signing_for": "You are signing an autogiro mandate from account {account} to {issuer}.",
        "cancel": "Cancel",
        "done": "Done! The mandate is signed and goes to your bank. Autogiro starts once your bank has approved it.",
        "again": "Try again",
        "back": "Back to the invoice",
        "errors_title": "Please correct:",
        "mandate_exists": "You already have an autogiro mandate.",
        "personal_number_mismatch": (
            "The mandate was signed with another BankID than the customer's. The customer who holds the "
            "account needs to sign."
        ),
        "personal_number_missing": "The signature could not be checked. Please try again.",
        "signature_missing": "The signature could not be checked. Please try again.",
        "signature_invalid": "The signature could not be checked. Please try again.",
        "signature_mismatch": "The signature could not be checked. Please try again.",
        "ocsp_missing": "The signature could not be checked. Please try again.",
        "invalid_clearing": "Enter a clearing number of 4 digits (Swedbank: 5 digits).",
        "invalid_account": "Enter the account number, 1–12 digits, without the clearing number.",
        "no_customer": "This invoice has no customer who can set up autogiro.",
    },
}


def bankid_client(request: Request) -> BankIDClient | None:
    """The app's BankID client (one, shared by every request), or None when BankID is not configured."""
    state = request.app.state
    if not hasattr(state, "bankid_client"):
        settings = state.settings
        try:
            state.bankid_client = BankIDClient.from_settings(settings) if settings.bankid_url else None
        except BankIDNotConfigured as exc:  # e.g. a key that is not the certificate's: say so once
            log.error("bankid_not_configured", details=exc.details)
            state.bankid_client = None
    client: BankIDClient | None = state.bankid_client
    return client


def autogiro_url(token: str, lang: str | None = None, *parts: str) -> str:
    path = "/".join((f"/i/{token}/autogiro", *parts))
    return path + (f"?lang={lang}" if lang else "")


def _context(page: InvoicePage, **extra: Any) -> dict[str, Any]:
    token = page.found.invoice.token
    return {
        "lang": page.lang,
        "t": TEXTS[page.lang],
        "a": TEXTS_AG[page.lang],
        "issuer": page.found.tenant.name,
        **page_brand(page.found.tenant),
        "invoice_url": page_url(token, lang=page.chosen),
        "signup_url": autogiro_url(token, page.chosen),
        "form_token": visits.form_token(page.visit, PURPOSE),
        "chosen_lang": page.chosen or "",
        "errors": {},
        "values": {},
        "refresh": False,
        **extra,
    }


def bankid_qr_svg(content: str, label: str) -> Markup:
    """The QR code as inline SVG, drawn afresh: the content changes every second, so it is not
    put in the web invoice's QR cache (kept for Swish codes, which stay the same)."""
    svg = segno.make(content, error="l").svg_inline(scale=4, border=2, svgclass="qr", lineclass=None, omitsize=True)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" ', 1)
    return Markup(svg)  # noqa: S704 - segno's SVG of our own content; the label is escaped


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


# --- the sign-up ---------------------------------------------------------------------------------


@router.get("/i/{token}/autogiro")
def signup_page(token: str, request: Request) -> Response:
    page = load_page(request, token, chosen_language(request.query_params.get("lang")))
    if page is None:
        return not_found()
    return _signup(request, page)


def _signup(
    request: Request, page: InvoicePage, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Response:
    database: Database = request.app.state.db
    mandate = None
    if page.found.customer is not None:
        with database.read() as session:
            mandate = autogiro.active_or_pending_for(session, page.found.tenant, page.found.customer.id)
    context = _context(
        page,
        available=bankid_client(request) is not None and page.found.customer is not None,
        mandate=mandate,
        mandate_account=masked_account(mandate.clearing, mandate.account) if mandate else "",
        errors=errors or {},
        values=values or {},
        post_url=autogiro_url(page.found.invoice.token),
    )
    return html_response(request, render("autogiro.html", context), 422 if errors else 200)


@router.post("/i/{token}/autogiro")
async def start_signing(token: str, request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(_start_signing, request, token, form)


def _start_signing(request: Request, token: str, form: dict[str, str]) -> Response:
    page = load_page(request, token, chosen_language(form.get("lang")))
    if page is None:
        return not_found()
    client = bankid_client(request)
    if client is None or page.found.customer is None:
        return _signup(request, page)
    if not _trusted(request, page.visit, PURPOSE, form):
        return _signup(request, page, errors={"form": "refused"}, values=form)
    try:
        order_id = signing.start(
            request.app.state.db,
            client,
            page.found.tenant.id,
            page.found.invoice.id,
            form,
            ip=_end_user_ip(request),
            lang=page.lang,
            now=utcnow(),
        )
    except BankIDError as exc:
        log.warning("bankid_sign_refused", error_code=exc.error_code, details=exc.details)
        return _signup(request, page, errors={"bankid": bankid_messages.error_message(exc.error_code, page.lang)})
    except KvittError as exc:
        return _signup(request, page, errors=_form_errors(exc, page.lang), values=form)
    return RedirectResponse(
        autogiro_url(token, page.chosen, str(order_id)), status_code=303, headers={"Cache-Control": "no-store"}
    )


def _form_errors(exc: KvittError, lang: str) -> dict[str, str]:
    texts = TEXTS_AG[lang]
    if exc.code == "mandate_exists":
        return {"form": texts["mandate_exists"]}
    if exc.param in ("clearing", "account"):
        return {exc.param: texts[f"invalid_{exc.param}"]}
    return {"form": texts["no_customer"]}


def _end_user_ip(request: Request) -> str:
    """The payer's address as BankID wants it (``endUserIp``); a test client's name is no address."""
    host = request.client.host if request.client else ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return host


# --- the order ---------------------------------------------------------------------------------------


@router.get("/i/{token}/autogiro/{order_id}")
def order_page(token: str, order_id: int, request: Request) -> Response:
    return _order(request, token, order_id, fragment=False)


@router.get("/i/{token}/autogiro/{order_id}/status")
def order_status(token: str, order_id: int, request: Request) -> Response:
    return _order(request, token, order_id, fragment=True)


def _order(request: Request, token: str, order_id: int, *, fragment: bool) -> Response:
    page = load_page(request, token, chosen_language(request.query_params.get("lang")))
    client = bankid_client(request)
    if page is None or client is None:
        return not_found()
    database: Database = request.app.state.db
    tenant_id, invoice_id = page.found.tenant.id, page.found.invoice.id
    with database.read() as session:
        order = signing.find(session, tenant_id, invoice_id, order_id)
    if order is None:
        return not_found()
    was_pending = order.status == "pending"
    if was_pending:
        try:
            signing.poll(database, client, tenant_id, order.id, utcnow())
        except BankIDError as exc:  # BankID unreachable for a moment: the next poll tries again
            log.warning("bankid_collect_failed", error_code=exc.error_code, details=exc.details)
        with database.read() as session:
            order = signing.find(session, tenant_id, invoice_id, order_id) or order
    if fragment and was_pending and order.status != "pending":
        # The order has ended: the whole page shows the outcome (htmx reloads it).
        return reload_whole_page()
    context = _context(page, **_order_context(page, order))
    # The message goes out again only when the hint code differs from the one the page shows.
    shown_hint = request.query_params.get("hint")
    context["fragment"] = fragment
    context["message_changed"] = not fragment or shown_hint != (order.hint_code or "")
    name = "autogiro_order.html" if not fragment else "autogiro_status.html"
    return html_response(request, render(name, context))


def _order_context(page: InvoicePage, order: SignOrder) -> dict[str, Any]:
    token = page.found.invoice.token
    texts = TEXTS_AG[page.lang]
    context: dict[str, Any] = {
        "order": order,
        "account": masked_account(order.clearing, order.account),
        "status_url": _with_query(
            autogiro_url(token, page.chosen, str(order.id), "status"), hint=order.hint_code or ""
        ),
        "cancel_url": autogiro_url(token, None, str(order.id), "cancel"),
        "refresh": order.status == "pending",
    }
    if order.status == "pending" and order.qr_start_secret:
        seconds = seconds_since(order.started_at, utcnow())
        context["qr"] = bankid_qr_svg(qr_data(order.qr_start_token, order.qr_start_secret, seconds), texts["qr_label"])
        context["autostart"] = autostart_url(order.auto_start_token)
        context["message"] = bankid_messages.pending_message(order.hint_code, page.lang)
    elif order.status == "complete":
        context["message"] = texts["done"]
    elif order.error:
        context["message"] = texts.get(order.error, bankid_messages.error_message(order.error, page.lang))
    else:
        context["message"] = bankid_messages.failed_message(order.hint_code, page.lang)
    return context


@router.post("/i/{token}/autogiro/{order_id}/cancel")
async def cancel_order(token: str, order_id: int, request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(_cancel_order, request, token, order_id, form)


def _cancel_order(request: Request, token: str, order_id: int, form: dict[str, str]) -> Response:
    lang = chosen_language(form.get("lang"))
    page = load_page(request, token, lang)
    client = bankid_client(request)
    if page is None or client is None:
        return not_found()
    if _trusted(request, page.visit, PURPOSE, form):
        database: Database = request.app.state.db
        with database.read() as session:
            order = signing.find(session, page.found.tenant.id, page.found.invoice.id, order_id)
        if order is None:
            return not_found()
        try:
            signing.cancel(database, client, page.found.tenant.id, order.id, utcnow())
        except BankIDError as exc:
            log.warning("bankid_cancel_failed", error_code=exc.error_code, details=exc.details)
    return RedirectResponse(
        autogiro_url(token, lang, str(order_id)), status_code=303, headers={"Cache-Control": "no-store"}
    )
