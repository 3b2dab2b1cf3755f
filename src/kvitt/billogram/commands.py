"""``POST billogram/{id}/command/{name}``: each command the v1 API's twin service call.

| command   | v1 twin                                                        |
| send      | POST /invoices/{id}/issue, + POST /invoices/{id}/send per channel beyond the customer's own |
| attest    | POST /invoices/{id}/issue                                      |
| resend    | POST /invoices/{id}/send                                       |
| payment   | POST /invoices/{id}/payments                                   |
| credit    | POST /invoices/{id}/credit                                     |
| writeoff  | POST /invoices/{id}/write-off                                  |
| message   | POST /invoices/{id}/messages                                   |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from kvitt.billogram import fields
from kvitt.billogram.errors import BillogramError, invalid
from kvitt.billogram.invoices import EXTRA
from kvitt.core import clock
from kvitt.customers import service as customers
from kvitt.delivery import service as delivery
from kvitt.dunning import pauses
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import CreditIn
from kvitt.payments import service as payments
from kvitt.tenants.models import Tenant
from kvitt.web import messages

ACTOR = "billogram-api"
NOT_SUPPORTED = "NOT_SUPPORTED"
METHODS = {"Email": ("email",), "Letter": ("letter",), "Email+Letter": ("email", "letter"), "SMS": ("sms",)}
UNSUPPORTED = {
    "remind": "reminders follow the tenant's dunning policies in Kvitt (/api/v1/dunning-policies)",
    "collect": "collection follows the tenant's dunning policies in Kvitt (a policy's collection step)",
    "sell": "Kvitt has no factoring",
    "attach": "Kvitt does not attach PDFs to invoices",
}

Command = Callable[[Session, Tenant, Invoice, dict[str, Any]], None]


def run(session: Session, tenant: Tenant, invoice: Invoice, name: str, body: dict[str, Any]) -> None:
    if name in UNSUPPORTED:
        raise BillogramError(NOT_SUPPORTED, f"{name} is not supported: {UNSUPPORTED[name]}", field="command")
    command = COMMANDS.get(name)
    if command is None:
        raise invalid(f"unknown command {name}", "command")
    command(session, tenant, invoice, body)


def _method(body: dict[str, Any], allowed: tuple[str, ...], *, required: bool) -> tuple[str, ...]:
    fields.check_keys(body, ("method",))
    method = fields.text(body, "method")
    if method is None and not required:
        return ()
    if method not in allowed:
        raise invalid(f"method must be one of {', '.join(allowed)}", "method")
    return METHODS[method]


def _issue(session: Session, tenant: Tenant, invoice: Invoice) -> None:
    invoices.issue(session, tenant, [invoice], today=clock.today(), actor=ACTOR)
    if (invoice.metadata_.get(EXTRA) or {}).get("automatic_reminders") is False:
        # automatic_reminders: false is a dunning pause on the invoice (POST /dunning-pauses).
        pauses.pause(session, tenant, invoice_id=invoice.id, reason="automatic_reminders: false", actor=ACTOR)


def send(session: Session, tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    """Issue; Kvitt delivers an issued invoice on the customer's own method (with fallback), and
    each channel of ``method`` that differs from it is sent as well."""
    channels = _method(body, ("Email", "Letter", "Email+Letter", "SMS"), required=True)
    _issue(session, tenant, invoice)
    own = _own_method(session, tenant, invoice)
    for channel in channels:
        if channel != own:
            delivery.start_delivery(
                session, tenant.id, invoice.id, channel=channel, reason=delivery.RESEND, actor=ACTOR
            )


def _own_method(session: Session, tenant: Tenant, invoice: Invoice) -> str:
    customer = customers.get(session, tenant, invoice.customer_id)
    return customer.delivery_method or tenant.default_delivery


def attest(session: Session, tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    fields.check_keys(body, ())
    _issue(session, tenant, invoice)


def resend(session: Session, tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    channels = _method(body, ("Email", "Letter", "SMS"), required=False) or (None,)
    for channel in channels:
        delivery.start_delivery(session, tenant.id, invoice.id, channel=channel, reason=delivery.RESEND, actor=ACTOR)


def payment(session: Session, tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    fields.check_keys(body, ("amount",))
    amount = fields.money(body, "amount")
    if amount is None or amount <= 0:
        raise invalid("amount must be more than 0", "amount")
    today = clock.today()
    payments.pay_invoice(session, tenant, invoice, amount, on=today, today=today, reference=None, actor=ACTOR)


def credit(session: Session, tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    fields.check_keys(body, ("mode", "amount", "text"))
    mode = fields.text(body, "mode") or "full"
    if mode not in ("full", "remaining", "amount"):
        raise invalid("mode must be full, remaining or amount", "mode")
    try:
        data = CreditIn(mode=mode, amount=fields.money(body, "amount"), reason=fields.text(body, "text"))
    except ValidationError as exc:
        raise fields.from_pydantic(exc, {}) from None
    invoices.credit(session, tenant, invoice, data, today=clock.today(), actor=ACTOR)


def writeoff(session: Session, tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    fields.check_keys(body, ())
    invoices.write_off(session, tenant, invoice, today=clock.today(), reason=None, actor=ACTOR)


def message(session: Session, tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    fields.check_keys(body, ("message",))
    text = fields.text(body, "message")
    if not text:
        raise invalid("message is not set", "message")
    if len(text) > messages.MAX_LENGTH:
        raise invalid(f"message is longer than {messages.MAX_LENGTH} characters", "message")
    messages.post_message(session, tenant.id, invoice.id, author="staff", text=text)


COMMANDS: dict[str, Command] = {
    "send": send,
    "attest": attest,
    "resend": resend,
    "payment": payment,
    "credit": credit,
    "writeoff": writeoff,
    "message": message,
}
