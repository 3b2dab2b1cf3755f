"""A local simulator of the part of Stripe's API that Kvitt uses for card payments, and a card page.

As Stripe documents it (https://docs.stripe.com/api, test mode):

- Authentication: ``Authorization: Bearer <secret key>`` (401 otherwise); bodies are
  form-encoded (``metadata[invoice]=12``, ``payment_method_types[0]=card``); answers are JSON;
  an ``Idempotency-Key`` makes a repeated POST answer what the first one did.
- ``POST /v1/payment_intents`` (``amount`` in the currency's minor unit, at least 3.00 SEK;
  ``currency``; ``payment_method_types``; ``description``; ``metadata``; optional
  ``payment_method`` with ``confirm=true``), ``GET /v1/payment_intents/{id}``,
  ``POST /v1/payment_intents/{id}/confirm`` (``payment_method``), ``POST
  /v1/payment_intents/{id}/cancel``; statuses ``requires_payment_method``, ``succeeded``,
  ``canceled``; ``last_payment_error`` after a declined card.
- Test PaymentMethods: ``pm_card_visa`` succeeds, ``pm_card_chargeDeclined`` is declined: 402
  with ``{"error": {"type": "card_error", "code": "card_declined", "decline_code":
  "generic_decline", ...}}``.
- ``POST /v1/refunds`` (``payment_intent``, ``amount``: default all that is left) and ``GET
  /v1/refunds/{id}``; refunds succeed at once.
- Errors: ``{"error": {"type", "code", "param", "message"}}`` (``invalid_request_error`` 400,
  ``resource_missing`` 404).
- Webhooks to ``webhook_url``: ``payment_intent.succeeded``, ``payment_intent.payment_failed``,
  ``payment_intent.canceled``, ``charge.refunded``, signed with ``Stripe-Signature:
  t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>" with the endpoint secret>``.

And a card page (``GET /pay/{intent}?return_url=...``) that the demo's web invoice sends the
payer to: test card 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined; then back to
``return_url``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

MINIMUM = {"sek": 300, "eur": 50, "usd": 50}
TEST_CARDS = {"4242424242424242": "pm_card_visa", "4000000000000002": "pm_card_chargeDeclined"}
API_VERSION = "2025-01-27.acacia"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _error(
    status: int, message: str, *, code: str | None = None, param: str | None = None, **extra: Any
) -> JSONResponse:
    kind = extra.pop("type", "invalid_request_error")
    return JSONResponse({"error": {"type": kind, "code": code, "param": param, "message": message, **extra}}, status)


def _form(raw: bytes) -> dict[str, Any]:
    """Stripe's form encoding: ``a[b]=c`` → ``{"a": {"b": "c"}}``, ``a[0]=x`` → ``{"a": ["x"]}``."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        if "[" in key and key.endswith("]"):
            name, inner = key[:-1].split("[", 1)
            if inner.isdigit() or inner == "":
                result.setdefault(name, []).append(value)
            else:
                result.setdefault(name, {})[inner] = value
        else:
            result[key] = value
    return result


@dataclass
class CardSimulator:
    secret_key: str = "sk_test_kvitt_simulator"  # noqa: S105 - the simulator's own test key
    webhook_secret: str = "whsec_kvitt_simulator"  # noqa: S105 - the simulator's own test secret
    webhook_url: str | None = None
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)  # type, status (or error)
    _answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/payment_intents", self.create_intent, methods=["POST"]),
                Route("/v1/payment_intents/{id}", self.get_intent, methods=["GET"]),
                Route("/v1/payment_intents/{id}/confirm", self.confirm_intent, methods=["POST"]),
                Route("/v1/payment_intents/{id}/cancel", self.cancel_intent, methods=["POST"]),
                Route("/v1/refunds", self.create_refund, methods=["POST"]),
                Route("/v1/refunds/{id}", self.get_refund, methods=["GET"]),
                Route("/pay/{id}", self.card_page, methods=["GET"]),
                Route("/pay/{id}", self.pay_with_card, methods=["POST"]),
            ]
        )

    # --- API ------------------------------------------------------------------------------------

    def _refused(self, request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip(), self.secret_key):
            shown = (key[:8] + "***") if key else ""
            return _error(401, f"Invalid API Key provided: {shown}")
        return None

    async def _idempotent(self, request: Request, make: Any) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key")
        if key and key in self._answers:
            status, body = self._answers[key]
            return JSONResponse(body, status, headers={"Idempotent-Replayed": "true"})
        made: tuple[Response, BackgroundTask | None] = make(_form(await request.body()), request)
        response, task = made
        if key and response.status_code < 500:
            self._answers[key] = (response.status_code, json.loads(bytes(response.body)))
        response.background = task
        return response

    async def create_intent(self, request: Request) -> Response:
        return await self._idempotent(request, self._create_intent)

    def _create_intent(self, form: dict[str, Any], _: Request) -> tuple[Response, BackgroundTask | None]:
        amount, currency = form.get("amount"), str(form.get("currency") or "").lower()
        if amount is None:
            return _error(400, "Missing required param: amount.", code="parameter_missing", param="amount"), None
        if not str(amount).isdigit():
            return _error(
                400, "Invalid integer: " + str(amount), code="parameter_invalid_integer", param="amount"
            ), None
        if len(currency) != 3:
            return _error(400, "Missing required param: currency.", code="parameter_missing", param="currency"), None
        if int(amount) < MINIMUM.get(currency, 50):
            message = f"Amount must be at least {MINIMUM.get(currency, 50) / 100:.2f} {currency}"
            return _error(400, message, code="amount_too_small", param="amount"), None
        ident = "pi_" + secrets.token_hex(12)
        intent = {
            "id": ident,
            "object": "payment_intent",
            "amount": int(amount),
            "amount_received": 0,
            "currency": currency,
            "status": "requires_payment_method",
            "client_secret": f"{ident}_secret_{secrets.token_hex(12)}",
            "created": int(time.time()),
            "description": form.get("description"),
            "metadata": form.get("metadata") or {},
            "payment_method_types": form.get("payment_method_types") or ["card"],
            "payment_method": None,
            "latest_charge": None,
            "last_payment_error": None,
            "capture_method": "automatic",
            "livemode": False,
        }
        with self._lock:
            self.intents[ident] = intent
        if form.get("confirm") == "true" and form.get("payment_method"):
            return self._confirm(intent, str(form["payment_method"]))
        return JSONResponse(intent), None

    async def get_intent(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return _missing("payment_intent", request.path_params["id"])
        return JSONResponse(intent)

    async def confirm_intent(self, request: Request) -> Response:
        return await self._idempotent(request, self._confirm_from_api)

    def _confirm_from_api(self, form: dict[str, Any], request: Request) -> tuple[Response, BackgroundTask | None]:
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return _missing("payment_intent", request.path_params["id"]), None
        return self._confirm(intent, str(form.get("payment_method") or ""))

    def _confirm(self, intent: dict[str, Any], method: str) -> tuple[Response, BackgroundTask | None]:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            message = f"This PaymentIntent's status is {intent['status']}, so it cannot be confirmed."
            return _error(400, message, code="payment_intent_unexpected_state", param=None), None
        if method not in TEST_CARDS.values():
            return _error(
                400, f"No such PaymentMethod: '{method}'", code="resource_missing", param="payment_method"
            ), None
        with self._lock:
            intent["payment_method"] = method
            if method == "pm_card_chargeDeclined":
                error = {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": "Your card was declined.",
                }
                intent["last_payment_error"] = error
                intent["status"] = "requires_payment_method"
            else:
                intent["last_payment_error"] = None
                intent["status"] = "succeeded"
                intent["amount_received"] = intent["amount"]
                intent["latest_charge"] = "ch_" + secrets.token_hex(12)
        if method == "pm_card_chargeDeclined":
            task = self._webhook("payment_intent.payment_failed", intent)
            body = {"error": {**error, "param": None, "payment_intent": intent}}
            return JSONResponse(body, 402), task
        return JSONResponse(intent), self._webhook("payment_intent.succeeded", intent)

    async def cancel_intent(self, request: Request) -> Response:
        return await self._idempotent(request, self._cancel)

    def _cancel(self, _: dict[str, Any], request: Request) -> tuple[Response, BackgroundTask | None]:
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return _missing("payment_intent", request.path_params["id"]), None
        if intent["status"] == "succeeded":
            message = "You cannot cancel this PaymentIntent because it has a status of succeeded."
            return _error(400, message, code="payment_intent_unexpected_state"), None
        intent["status"] = "canceled"
        return JSONResponse(intent), self._webhook("payment_intent.canceled", intent)

    async def create_refund(self, request: Request) -> Response:
        return await self._idempotent(request, self._create_refund)

    def _create_refund(self, form: dict[str, Any], _: Request) -> tuple[Response, BackgroundTask | None]:
        intent = self.intents.get(str(form.get("payment_intent") or ""))
        if intent is None:
            return _missing("payment_intent", str(form.get("payment_intent"))), None
        if intent["status"] != "succeeded":
            return _error(
                400, "This PaymentIntent has no successful charge to refund.", code="charge_not_refundable"
            ), None
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"])
        left = intent["amount_received"] - refunded
        amount = int(form.get("amount") or left)
        if not 0 < amount <= left:
            message = f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            return _error(400, message, code="amount_too_large", param="amount"), None
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "charge": intent["latest_charge"],
            "status": "succeeded",
            "created": int(time.time()),
            "failure_reason": None,
        }
        with self._lock:
            self.refunds[refund["id"]] = refund
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount_received"],
            "amount_refunded": refunded + amount,
            "refunded": refunded + amount == intent["amount_received"],
            "payment_intent": intent["id"],
        }
        return JSONResponse(refund), self._webhook("charge.refunded", charge)

    async def get_refund(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        refund = self.refunds.get(request.path_params["id"])
        return JSONResponse(refund) if refund else _missing("refund", request.path_params["id"])

    # --- webhooks -------------------------------------------------------------------------------

    def _webhook(self, kind: str, obj: dict[str, Any]) -> BackgroundTask | None:
        if not self.webhook_url:
            return None
        event = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": kind,
            "livemode": False,
            "data": {"object": dict(obj)},
        }
        return BackgroundTask(self.send_event, event)

    async def send_event(self, event: dict[str, Any]) -> None:
        payload = json.dumps(event)
        outcome: dict[str, Any] = {"type": event["type"], "event": event}
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(
                    str(self.webhook_url),
                    content=payload,
                    headers={
                        "Content-Type": "application/json",
                        "Stripe-Signature": sign(payload, self.webhook_secret),
                    },
                )
            outcome["status"] = response.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = str(exc)
        with self._lock:
            self.webhooks.append(outcome)

    # --- the card page --------------------------------------------------------------------------

    async def card_page(self, request: Request) -> Response:
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return HTMLResponse("<!doctype html><title>Okänd betalning</title><h1>Okänd betalning</h1>", 404)
        return HTMLResponse(_page(intent, request.query_params.get("return_url", ""), None))

    async def pay_with_card(self, request: Request) -> Response:
        intent = self.intents.get(request.path_params["id"])
        if intent is None:
            return HTMLResponse("<!doctype html><title>Okänd betalning</title><h1>Okänd betalning</h1>", 404)
        form = dict(parse_qsl((await request.body()).decode("utf-8")))
        back = form.get("return_url", "")
        number = "".join(ch for ch in form.get("number", "") if ch.isdigit())
        method = TEST_CARDS.get(number)
        if method is None:
            return HTMLResponse(
                _page(intent, back, "Kortnumret gick inte att använda. Testkort: 4242 4242 4242 4242."), 400
            )
        response, task = self._confirm(intent, method)
        if back and _safe(back):
            redirect = RedirectResponse(back, status_code=303)
            redirect.background = task
            return redirect
        message = "Betalningen är klar." if response.status_code == 200 else "Kortet nekades."
        return HTMLResponse(f"<!doctype html><title>{message}</title><p>{message}</p>", background=task)


def _safe(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _missing(kind: str, ident: str) -> JSONResponse:
    return _error(404, f"No such {kind}: '{ident}'", code="resource_missing", param="id")


def _page(intent: dict[str, Any], back: str, problem: str | None) -> str:
    amount = f"{intent['amount'] // 100},{intent['amount'] % 100:02d} {intent['currency'].upper()}"
    error = f'<p role="alert" class="error">{html.escape(problem)}</p>' if problem else ""
    done = intent["status"] == "succeeded"
    form = (
        "<p>Betalningen är redan genomförd.</p>"
        if done
        else f"""<form method="post">
<input type="hidden" name="return_url" value="{html.escape(back)}">
<label for="number">Kortnummer</label>
<input id="number" name="number" inputmode="numeric" autocomplete="cc-number"
 placeholder="4242 4242 4242 4242" required>
<label for="exp">Giltigt till (MM/ÅÅ)</label><input id="exp" name="exp" value="12/34" autocomplete="cc-exp">
<label for="cvc">CVC</label><input id="cvc" name="cvc" value="123" inputmode="numeric" autocomplete="cc-csc">
<button type="submit">Betala {html.escape(amount)}</button>
</form>"""
    )
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kortbetalning (testläge)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}}
label{{display:block;margin-top:1rem}}input{{width:100%;font-size:1.1rem;padding:.5rem;box-sizing:border-box}}
button{{margin-top:1.5rem;width:100%;font-size:1.1rem;padding:.8rem;background:#635bff;color:#fff;border:0;border-radius:.4rem}}
.error{{color:#a40000}}</style></head>
<body><main><h1>Kortbetalning</h1>
<p>Testläge (Kvitts kortsimulator). Att betala: <strong>{html.escape(amount)}</strong></p>
{error}{form}
<p><small>Testkort: 4242 4242 4242 4242 (godkänns), 4000 0000 0000 0002 (nekas).</small></p></main></body></html>"""


def settings_for(url: str, simulator: CardSimulator) -> dict[str, str]:
    """The KVITT_STRIPE_* settings that point Kvitt at a running simulator."""
    return {
        "KVITT_STRIPE_API_BASE": url,
        "KVITT_STRIPE_SECRET_KEY": simulator.secret_key,
        "KVITT_STRIPE_WEBHOOK_SECRET": simulator.webhook_secret,
        "KVITT_STRIPE_CARD_PAGE": f"{url}/pay",
    }
