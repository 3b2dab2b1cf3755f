"""*Kunder*: find a customer by anything a caller may say, and the customer's whole page.

Search (``q``): name (part of it), customer number, personal or organisation number, e-mail,
phone (any Swedish way of writing it), invoice number or OCR reference; at most 50 hits.
The page: details and delivery preference, balance, subscriptions, autogiro mandates, invoices,
the ledger with its running balance (the API's own ``/customers/{id}/ledger`` code), payments,
messages, dunning pauses and a timeline. Actions (support, finance, admin): contact details and
channel through ``customers.service.update``; pause dunning through ``dunning.pauses.pause``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kvitt.admin import render
from kvitt.admin.audit import audit
from kvitt.admin.auth import SUPPORT_ACTORS, StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, actor, read
from kvitt.admin.nav import roles_of
from kvitt.autogiro.models import Mandate
from kvitt.core import clock, identity
from kvitt.core.errors import ValidationFailed
from kvitt.customers import service as customers
from kvitt.customers.ledger_api import customer_ledger
from kvitt.customers.models import Customer
from kvitt.customers.schemas import CustomerUpdate
from kvitt.dunning import pauses
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.payments.models import Payment
from kvitt.subscriptions.models import Subscription
from kvitt.tenants.models import Tenant
from kvitt.web.messages import MESSAGE_TYPES

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("customers"))
CHANNELS = ("email", "sms", "letter", "einvoice")


def search(session: Session, tenant_id: int, q: str) -> list[Customer]:
    """Customers matching ``q`` by any of the fields a caller may name, best guesses first."""
    q = q.strip()
    if not q:
        return []
    query = select(Customer).where(Customer.tenant_id == tenant_id)
    conditions: list[Any] = [
        func.lower(Customer.name).contains(q.lower(), autoescape=True),
        Customer.customer_no == q,
        func.lower(Customer.email) == q.lower(),
    ]
    digits = re.sub(r"[\s\-+]", "", q)
    if digits.isdigit():
        invoice_customers = select(Invoice.customer_id).where(
            Invoice.tenant_id == tenant_id, or_(Invoice.ocr == digits, Invoice.number == _bounded(digits))
        )
        conditions.append(Customer.id.in_(invoice_customers))
        conditions.extend(Customer.id_number == number for number in _id_numbers(q))
    phone = _phone(q)
    if phone is not None:
        conditions.append(Customer.phone == phone)
    return list(session.scalars(query.where(or_(*conditions)).order_by(Customer.name, Customer.id).limit(PAGE_SIZE)))


def _bounded(digits: str) -> int:
    number = int(digits)
    return number if number < 2**62 else -1


def _id_numbers(q: str) -> list[str]:
    found = []
    for parse in (identity.personal_number, identity.organisation_number):
        try:
            found.append(parse(q))
        except ValueError:
            continue
    return found


def _phone(q: str) -> str | None:
    if not re.fullmatch(r"[\d\s\-+()]{6,}", q):
        return None
    try:
        return identity.phone_e164(q)
    except ValueError:
        return None


@router.get("/admin/kunder")
def customer_list(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    q = request.query_params.get("q", "")[:200]

    def load(session: Session, tenant: Tenant) -> list[Customer]:
        return search(session, tenant.id, q)

    found = read(request, staff, load)
    return render.page(request, staff, "admin/customers.html", {"q": q, "found": found}, nav="customers")


def customer_page_data(session: Session, tenant: Tenant, customer_id: int) -> dict[str, Any]:
    customer = customers.get(session, tenant, customer_id)
    invoices = list(
        session.scalars(
            select(Invoice)
            .where(Invoice.tenant_id == tenant.id, Invoice.customer_id == customer.id)
            .order_by(Invoice.id.desc())
            .limit(100)
        )
    )
    ledger = customer_ledger(customer.id, session, tenant, None, None)
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.tenant_id == tenant.id, Payment.customer_id == customer.id)
            .order_by(Payment.id.desc())
            .limit(PAGE_SIZE)
        )
    )
    events = list(
        session.scalars(
            select(InvoiceEvent)
            .join(Invoice, Invoice.id == InvoiceEvent.invoice_id)
            .where(InvoiceEvent.tenant_id == tenant.id, Invoice.tenant_id == tenant.id)
            .where(Invoice.customer_id == customer.id)
            .order_by(InvoiceEvent.id.desc())
            .limit(100)
        )
    )
    subscriptions = list(
        session.scalars(
            select(Subscription)
            .where(Subscription.tenant_id == tenant.id, Subscription.customer_id == customer.id)
            .order_by(Subscription.id.desc())
            .limit(20)
        )
    )
    mandates = list(
        session.scalars(
            select(Mandate)
            .where(Mandate.tenant_id == tenant.id, Mandate.customer_id == customer.id)
            .order_by(Mandate.id.desc())
            .limit(20)
        )
    )
    numbers = {invoice.id: invoice.number for invoice in invoices}
    today = clock.today()
    customer_pauses = pauses.list_page(session, tenant, limit=20, starting_after=None, customer=customer.id).items
    return {
        "customer": customer,
        "invoices": invoices,
        "ledger": ledger,
        "payments": payments,
        "messages": [e for e in events if e.type in MESSAGE_TYPES],
        "timeline": events,
        "numbers": numbers,
        "pauses": [(p, pauses.is_active(p, today)) for p in customer_pauses],
        "channels": CHANNELS,
        "subscriptions": subscriptions,
        "mandates": mandates,
    }


@router.get("/admin/kunder/{customer_id}")
def customer_page(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    data = read(request, staff, lambda session, tenant: customer_page_data(session, tenant, customer_id))
    return render.page(
        request, staff, "admin/customer.html", {**data, "done": request.query_params.get("done")}, nav="customers"
    )


@router.post("/admin/kunder/{customer_id}/kontakt")
async def change_contact(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """E-mail, phone and the delivery channel, through the same update as the API's PATCH."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        customer = customers.get(session, tenant, customer_id)
        before = {"email": customer.email, "phone": customer.phone, "delivery_method": customer.delivery_method}
        fields = {k: (form.get(k, "").strip() or None) for k in ("email", "phone")}
        method = form.get("delivery_method", customer.delivery_method)
        if method not in CHANNELS:
            raise ValidationFailed("choose one of the channels", param="delivery_method")
        customers.update(session, tenant, customer.id, CustomerUpdate(**fields, delivery_method=method))
        after = {"email": customer.email, "phone": customer.phone, "delivery_method": customer.delivery_method}
        if after != before:
            audit(session, staff, "customer.update", before, after, target=f"customer:{customer.id}")
        return f"/admin/kunder/{customer.id}?done=contact"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


@router.post("/admin/kunder/{customer_id}/paus")
async def pause_dunning(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Pause reminders and collection for the customer (until a day, or until ended)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        until = None
        if form.get("until"):
            try:
                until = date.fromisoformat(form["until"])
            except ValueError:
                raise ValidationFailed("until: a date such as 2027-01-31", param="until") from None
        row = pauses.pause(
            session, tenant, customer_id=customer_id, reason=form.get("reason", ""), until=until, actor=actor(staff)
        )
        after = {"reason": row.reason, "until": row.until}
        audit(session, staff, "customer.pause_dunning", None, after, target=f"customer:{customer_id}")
        return f"/admin/kunder/{customer_id}?done=paused"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")
