"""*Fakturor*: the invoice list with filters, and an invoice's page with its actions.

Filters: state, invoice date from/to, channel (of any delivery), amount (total, kronor) from/to,
overdue only. The page: the web invoice and its PDF, lines, deliveries, payments and their
allocations, messages (answer in place) and the events' timeline. Actions, each through the
SAME service function the API's endpoint calls (never a second copy of a rule), each audited:

- issue a draft, credit (whole, what is left, or an amount), write off, register a manual payment
  (finance, admin): ``invoices.service.issue/credit/write_off``, ``payments.service.pay_invoice``;
- send again (support, finance, admin): ``delivery.service.start_delivery(reason=RESEND)``;
- a payment extension (support, finance, admin): ``dunning.extensions.request``, then ``decide``
  (approved by the staff member) when it is beyond the tenant's automatic limit;
- answer the customer (support, finance, admin): ``web.messages.post_message(author="staff")``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit
from kvitt.admin.auth import FINANCE_ACTORS, SUPPORT_ACTORS, StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, actor, amount_ore, read
from kvitt.admin.invoice_preview import FRAMING_CSP
from kvitt.admin.nav import roles_of
from kvitt.core import clock
from kvitt.core.config import web_base_url
from kvitt.core.errors import ValidationFailed
from kvitt.delivery import service as delivery
from kvitt.delivery.models import Delivery
from kvitt.dunning import extensions
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import CreditIn
from kvitt.payments import service as payments
from kvitt.payments.models import Allocation
from kvitt.tenants.models import Tenant
from kvitt.web import messages

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("invoices"))
CHANNELS = ("email", "sms", "letter", "einvoice")
FILTERS = ("state", "from", "to", "channel", "min", "max", "overdue", "after")


def _day(value: str, param: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{param}: a date such as 2026-12-31", param=param) from None


def filtered(session: Session, tenant_id: int, params: dict[str, str]) -> tuple[list[Invoice], bool]:
    """A page of invoices (newest first) matching the filters; whether there are more."""
    query = select(Invoice).where(Invoice.tenant_id == tenant_id)
    if params.get("state") in states.STATES:
        query = query.where(Invoice.state == params["state"])
    if (low := _day(params.get("from", ""), "from")) is not None:
        query = query.where(Invoice.invoice_date >= low)
    if (high := _day(params.get("to", ""), "to")) is not None:
        query = query.where(Invoice.invoice_date <= high)
    if params.get("channel") in CHANNELS:
        sent = select(Delivery.id).where(
            Delivery.tenant_id == tenant_id, Delivery.invoice_id == Invoice.id, Delivery.channel == params["channel"]
        )
        query = query.where(exists(sent))
    if params.get("min"):
        query = query.where(Invoice.total >= amount_ore(params["min"], "min"))
    if params.get("max"):
        query = query.where(Invoice.total <= amount_ore(params["max"], "max"))
    if params.get("overdue"):
        query = query.where(Invoice.state.in_((states.OVERDUE, states.IN_COLLECTION)))
    if params.get("after", "").isdigit():
        query = query.where(Invoice.id < int(params["after"]))
    rows = list(session.scalars(query.order_by(Invoice.id.desc()).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@router.get("/admin/fakturor")
def invoice_list(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    params = {k: request.query_params.get(k, "")[:40] for k in FILTERS}
    error = None
    try:
        rows, more = read(request, staff, lambda session, tenant: filtered(session, tenant.id, params))
    except ValidationFailed as exc:
        rows, more, error = [], False, exc.message
    next_params = {k: v for k, v in params.items() if v and k != "after"}
    context = {
        "params": params,
        "invoices": rows,
        "more": more,
        "next_query": "&".join(f"{k}={v}" for k, v in next_params.items()),
        "error": error,
        "states_list": states.STATES,
        "channels": CHANNELS,
        "show_customer": True,
    }
    return render.page(
        request, staff, "admin/invoices.html", context, nav="invoices", status_code=422 if error else 200
    )


def invoice_page_data(session: Session, tenant: Tenant, invoice_id: int) -> dict[str, Any]:
    invoice, events = invoices.get_with_events(session, tenant, invoice_id)
    allocations = list(
        session.scalars(
            select(Allocation)
            .where(Allocation.tenant_id == tenant.id, Allocation.invoice_id == invoice.id)
            .order_by(Allocation.id)
        )
    )
    credited = invoices.get(session, tenant, invoice.credited_invoice_id) if invoice.credited_invoice_id else None
    return {
        "invoice": invoice,
        "lines": list(invoice.lines),
        "timeline": sorted(events, key=lambda e: e.id, reverse=True),
        "messages": [e for e in sorted(events, key=lambda e: e.id) if e.type in messages.MESSAGE_TYPES],
        "deliveries": delivery.deliveries_of(session, tenant, invoice.id),
        "allocations": allocations,
        "credited": credited,
        "actions": states.available_actions(invoice.kind, invoice.state),
    }


@router.get("/admin/fakturor/{invoice_id}")
def invoice_page(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    data = read(request, staff, lambda session, tenant: invoice_page_data(session, tenant, invoice_id))
    base = web_base_url(request.app.state.settings)
    context = {
        **data,
        "web_url": f"{base}/i/{data['invoice'].token}",
        "channels": CHANNELS,
        "done": request.query_params.get("done"),
        "today": clock.today(),
    }
    response = render.page(request, staff, "admin/invoice.html", context, nav="invoices")
    response.headers["Content-Security-Policy"] = FRAMING_CSP  # the web invoice's preview
    return response


def _back(invoice_id: int, done: str) -> str:
    return f"/admin/fakturor/{invoice_id}?done={done}"


def _snapshot(invoice: Invoice) -> dict[str, Any]:
    return {k: getattr(invoice, k) for k in ("state", "total", "paid", "credited", "written_off", "remaining")}


@router.post("/admin/fakturor/{invoice_id}/utfarda")
async def issue(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        invoice = invoices.get(session, tenant, invoice_id, for_update=True)
        before = _snapshot(invoice)
        invoices.issue(session, tenant, [invoice], today=clock.today(), actor=actor(staff))
        audit(session, staff, "invoice.issue", before, _snapshot(invoice), target=f"invoice:{invoice.id}")
        return _back(invoice.id, "issued")

    return await act(request, staff, FINANCE_ACTORS, work, f"/admin/fakturor/{invoice_id}")


def resend(session: Session, tenant: Tenant, staff: StaffMember, invoice_id: int, form: dict[str, str]) -> None:
    """Send the invoice again, by ``method`` or the customer's channel (the API's resend)."""
    channel = form.get("method") or None
    before = {"deliveries": len(delivery.deliveries_of(session, tenant, invoice_id))}
    found = delivery.start_delivery(
        session, tenant.id, invoice_id, channel=channel, reason=delivery.RESEND, actor=actor(staff)
    )
    after = {
        "deliveries": len(delivery.deliveries_of(session, tenant, invoice_id)),
        "delivery": found.id if found else None,
        "channel": found.channel if found else channel,
    }
    audit(session, staff, "invoice.send", before, after, target=f"invoice:{invoice_id}")


@router.post("/admin/fakturor/{invoice_id}/skicka")
async def send(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        resend(session, tenant, staff, invoice_id, form)
        return _back(invoice_id, "sent")

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/fakturor/{invoice_id}")


def credit_invoice(session: Session, tenant: Tenant, staff: StaffMember, invoice_id: int, form: dict[str, str]) -> None:
    """A credit note for the whole invoice, what is left of it, or an amount (``mode``)."""
    mode = form.get("mode", "full")
    amount = amount_ore(form.get("amount", "")) if mode == "amount" else None
    data = CreditIn(mode=mode, amount=amount, reason=form.get("reason") or None)
    invoice = invoices.get(session, tenant, invoice_id, for_update=True)
    before = _snapshot(invoice)
    note = invoices.credit(session, tenant, invoice, data, today=clock.today(), actor=actor(staff))
    after = {**_snapshot(invoice), "credit_note": note.id, "credit_note_number": note.number}
    audit(session, staff, "invoice.credit", before, after, target=f"invoice:{invoice.id}")


@router.post("/admin/fakturor/{invoice_id}/kreditera")
async def credit(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        credit_invoice(session, tenant, staff, invoice_id, form)
        return _back(invoice_id, "credited")

    return await act(request, staff, FINANCE_ACTORS, work, f"/admin/fakturor/{invoice_id}")


@router.post("/admin/fakturor/{invoice_id}/skriv-av")
async def write_off(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        invoice = invoices.get(session, tenant, invoice_id, for_update=True)
        before = _snapshot(invoice)
        reason = form.get("reason") or None
        invoices.write_off(session, tenant, invoice, today=clock.today(), reason=reason, actor=actor(staff))
        audit(session, staff, "invoice.write_off", before, _snapshot(invoice), target=f"invoice:{invoice.id}")
        return _back(invoice.id, "written_off")

    return await act(request, staff, FINANCE_ACTORS, work, f"/admin/fakturor/{invoice_id}")


@router.post("/admin/fakturor/{invoice_id}/betalning")
async def manual_payment(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        amount = amount_ore(form.get("amount", ""))
        today = clock.today()
        on = _day(form.get("date", ""), "date") or today
        invoice = invoices.get(session, tenant, invoice_id, for_update=True)
        before = _snapshot(invoice)
        reference = form.get("reference") or None
        payment = payments.pay_invoice(
            session, tenant, invoice, amount, on=on, today=today, reference=reference, actor=actor(staff)
        )
        after = {**_snapshot(invoice), "payment": payment.id, "amount": amount, "date": on}
        audit(session, staff, "invoice.manual_payment", before, after, target=f"invoice:{invoice.id}")
        return _back(invoice.id, "paid")

    return await act(request, staff, FINANCE_ACTORS, work, f"/admin/fakturor/{invoice_id}")


def extend(session: Session, tenant: Tenant, staff: StaffMember, invoice_id: int, form: dict[str, str]) -> None:
    """A payment extension (anstånd) given by staff: the recipient's own request service, then
    approved by the staff member when it is not within the tenant's automatic limit."""
    until = _day(form.get("until", ""), "until")
    if until is None:
        raise ValidationFailed("until: the new due date", param="until")
    reason = form.get("reason") or None
    invoice = invoices.get(session, tenant, invoice_id)
    before = {"due_date": invoice.due_date, "state": invoice.state}
    row = extensions.request(
        session, tenant, invoice_id, until=until, reason=reason, today=clock.today(), actor=actor(staff)
    )
    if row.state == "pending":
        row = extensions.decide(session, tenant, row.id, approve=True, actor=actor(staff), note=reason)
    after = {**before, "extension": row.id, "until": row.until, "extension_state": row.state}
    audit(session, staff, "invoice.payment_extension", before, after, target=f"invoice:{invoice_id}")


@router.post("/admin/fakturor/{invoice_id}/anstand")
async def payment_extension(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        extend(session, tenant, staff, invoice_id, form)
        return _back(invoice_id, "extended")

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/fakturor/{invoice_id}")


@router.post("/admin/fakturor/{invoice_id}/meddelanden")
async def answer(invoice_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The answer to the customer, shown on the web invoice (``next``: where to go back to)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        invoices.get(session, tenant, invoice_id)
        sent = messages.post_message(session, tenant.id, invoice_id, author="staff", text=form.get("text", ""))
        audit(
            session,
            staff,
            "message.answer",
            None,
            {"message": sent["id"], "text": sent["text"]},
            target=f"invoice:{invoice_id}",
        )
        back = form.get("next", "")
        return back if back.startswith("/admin/") and not back.startswith("//") else _back(invoice_id, "answered")

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/fakturor/{invoice_id}")
