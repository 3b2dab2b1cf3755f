"""*Kunder*: find a customer by anything a caller may say, and the customer's whole page.

Search (``q``): name (part of it), customer number, personal or organisation number, e-mail,
phone (any Swedish way of writing it), invoice number or OCR reference; at most 50 hits.
The page: details and delivery preference, balance, subscriptions, autogiro mandates, invoices,
the ledger with its running balance (the API's own ``/customers/{id}/ledger`` code), payments,
messages, dunning pauses and a timeline.

Actions, each through the service the API's endpoint calls, each audited with before and after:

- support, finance, admin: contact details and channel, name, postal address and language, and the
  customer's attributes (what segments select on) through ``customers.service.update`` (the
  API's PATCH); pause dunning (``dunning.pauses.pause``) and resume it (``dunning.pauses.end``);
  for one of the customer's invoices (``invoice`` in the form, which must be this customer's): a
  payment extension and a resend by a chosen channel, the same functions as the invoice page's
  (``kvitt.admin.invoices.extend`` / ``resend``);
- finance, admin: credit one of the customer's invoices (``kvitt.admin.invoices.credit_invoice``);
- support, finance, admin: the personal or organisation number (``customers.service.update``, as
  the API's PATCH: checked with python-stdnum against the customer's type, a refusal shown beside
  the field); one of the customer's subscriptions (``subscription`` in the form) paused, resumed
  or cancelled (``subscriptions.service.pause/resume/cancel``, as ``POST
  /api/v1/subscriptions/{id}/pause|resume|cancel``), and an autogiro mandate cancelled
  (``autogiro.service.cancel``, as ``DELETE /api/v1/autogiro/mandates/{id}``). The type itself
  is not changed, here as in the API (an individual does not become a company: a new customer).
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kvitt.admin import invoices as invoice_actions
from kvitt.admin import render, texts
from kvitt.admin.audit import audit, audit_changes
from kvitt.admin.auth import FINANCE_ACTORS, SUPPORT_ACTORS, StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, actor, read, whole_number
from kvitt.admin.nav import roles_of
from kvitt.autogiro import service as autogiro
from kvitt.autogiro.models import Mandate
from kvitt.core import clock, identity
from kvitt.core.errors import KvittError, NotFound, ValidationFailed
from kvitt.customers import service as customers
from kvitt.customers.ledger_api import customer_ledger
from kvitt.customers.models import Customer
from kvitt.customers.schemas import CustomerUpdate
from kvitt.dunning import pauses
from kvitt.invoices import service as invoices_service
from kvitt.invoices import states
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.payments.models import Payment
from kvitt.subscriptions import service as subscriptions_service
from kvitt.subscriptions.models import Subscription
from kvitt.subscriptions.schemas import CancelIn, PauseIn, ResumeIn
from kvitt.tenants.models import Tenant
from kvitt.testclock.service import today_for
from kvitt.web.messages import MESSAGE_TYPES

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("customers"))
CHANNELS = ("email", "sms", "letter", "einvoice")
LANGUAGES = ("sv", "en")
LANGUAGE_NAMES = {"sv": "Svenska", "en": "Engelska"}
# The fields of "Uppgifter" besides contact and channel: CustomerUpdate's, as the API's PATCH.
DETAILS = ("name", "address_line1", "address_line2", "postal_code", "city", "country", "language")
EXTENDABLE = (states.UNPAID, states.PARTLY_PAID, states.OVERDUE)


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
    subscription_pauses = subscriptions_service.pauses_of(session, tenant, [s.id for s in subscriptions])
    business_day = today_for(session, tenant)
    subscription_rows = [
        {
            "subscription": s,
            "status": subscriptions_service.status(s, subscription_pauses[s.id], business_day),
            "open_pause": any(p.end is None for p in subscription_pauses[s.id]),
        }
        for s in subscriptions
    ]
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
        "subscriptions": subscription_rows,
        "mandates": mandates,
        "live_mandates": autogiro.LIVE,
        "SUBSCRIPTION_STATUS": texts.SUBSCRIPTION_STATUS,
        "MANDATE_STATUS": texts.MANDATE_STATUS,
        "field_errors": {},
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "paused": any(pauses.is_active(p, today) for p in customer_pauses),
        "attributes_text": attributes_text(customer.attributes or {}),
        "sendable": [i for i in invoices if i.kind == "invoice" and i.state != states.DRAFT],
        "extendable": [i for i in invoices if i.kind == "invoice" and i.state in EXTENDABLE],
        "creditable": [i for i in invoices if "credit" in states.available_actions(i.kind, i.state)],
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


@router.post("/admin/kunder/{customer_id}/uppgifter")
async def change_details(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Name, postal address, country and language, through the same update as the API's PATCH
    (an empty address field removes it; the name, country and language cannot be removed)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        customer = customers.get(session, tenant, customer_id)
        before = {k: getattr(customer, k) for k in DETAILS}
        fields: dict[str, Any] = {k: (form[k].strip() or None) for k in DETAILS if k in form}
        if fields.get("country"):
            fields["country"] = fields["country"].upper()
        customers.update(session, tenant, customer.id, CustomerUpdate(**fields))
        after = {k: getattr(customer, k) for k in DETAILS}
        audit_changes(session, staff, "customer.update", before, after, target=f"customer:{customer.id}")
        return f"/admin/kunder/{customer.id}?done=details"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


def attributes_text(attributes: dict[str, Any]) -> str:
    """The attributes as the form shows them: ``name = value`` a line; a text as it is (in JSON
    quotes when it would read as a number, true/false or JSON, or has a line break or spaces at
    its ends), anything else as JSON; ``parse_attributes`` reads it back unchanged."""
    lines = []
    for key, value in sorted(attributes.items()):
        plain = isinstance(value, str) and value == value.strip() and "\n" not in value and not _reads_as_json(value)
        shown = value if plain else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key} = {shown}")
    return "\n".join(lines)


def _reads_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def parse_attributes(text: str) -> dict[str, Any]:
    """The form's ``name = value`` lines: a value that is JSON (a number, true/false, null, a
    quoted text, a list or an object) is taken as that, anything else as text."""
    found: dict[str, Any] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or len(key) > 100:
            raise ValidationFailed(f"attributes, line {number}: write name = value", param="attributes")
        if key in found:
            raise ValidationFailed(f"attributes, line {number}: {key} is named twice", param="attributes")
        try:
            found[key] = json.loads(value)
        except ValueError:
            found[key] = value
    return found


@router.post("/admin/kunder/{customer_id}/attribut")
async def change_attributes(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The customer's attributes (all of them, as the API's PATCH with ``attributes``)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        customer = customers.get(session, tenant, customer_id)
        before = dict(customer.attributes or {})
        attributes = parse_attributes(form.get("attributes", ""))
        customers.update(session, tenant, customer.id, CustomerUpdate(attributes=attributes))
        if attributes != before:
            audit(
                session,
                staff,
                "customer.attributes",
                {"attributes": before},
                {"attributes": attributes},
                target=f"customer:{customer.id}",
            )
        return f"/admin/kunder/{customer.id}?done=attributes"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


@router.post("/admin/kunder/{customer_id}/ateruppta")
async def resume_dunning(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """End the customer's pause (``pause`` in the form) or, without one, every active pause of
    the customer: reminders and collection go on at the next dunning tick."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        customer = customers.get(session, tenant, customer_id)
        today = clock.today()
        if form.get("pause"):
            row = pauses.get(session, tenant, whole_number(form["pause"], "pause"))
            if row.customer_id != customer.id:
                raise NotFound(f"no dunning pause {row.id} of this customer", param="pause")
            ending = [row] if pauses.is_active(row, today) else []
        else:
            listed = pauses.list_page(session, tenant, limit=100, starting_after=None, customer=customer.id).items
            ending = [p for p in listed if pauses.is_active(p, today)]
        if not ending:
            raise ValidationFailed("the customer's reminders are not paused", param="pause")
        for row in ending:
            before = {"pause": row.id, "reason": row.reason, "until": row.until, "ended_at": None}
            pauses.end(session, tenant, row.id)
            after = {**before, "ended_at": row.ended_at}
            audit(session, staff, "customer.resume_dunning", before, after, target=f"customer:{customer.id}")
        return f"/admin/kunder/{customer.id}?done=resumed"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


# --- one of the customer's invoices: the invoice page's own actions -------------------------------


def customers_invoice(session: Session, tenant: Tenant, customer_id: int, form: dict[str, str]) -> int:
    """The form's ``invoice``, when it is this customer's (another's, or another tenant's, is
    as missing as one that does not exist)."""
    customer = customers.get(session, tenant, customer_id)
    invoice_id = whole_number(form.get("invoice", ""), "invoice")
    invoice = invoices_service.get(session, tenant, invoice_id)
    if invoice.customer_id != customer.id:
        raise NotFound(f"no invoice {invoice_id} of this customer", param="invoice")
    return invoice.id


@router.post("/admin/kunder/{customer_id}/anstand")
async def extend_invoice(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        invoice_id = customers_invoice(session, tenant, customer_id, form)
        invoice_actions.extend(session, tenant, staff, invoice_id, form)
        return f"/admin/kunder/{customer_id}?done=extended"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


@router.post("/admin/kunder/{customer_id}/skicka")
async def resend_invoice(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        invoice_id = customers_invoice(session, tenant, customer_id, form)
        invoice_actions.resend(session, tenant, staff, invoice_id, form)
        return f"/admin/kunder/{customer_id}?done=sent"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


@router.post("/admin/kunder/{customer_id}/kreditera")
async def credit_invoice(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        invoice_id = customers_invoice(session, tenant, customer_id, form)
        invoice_actions.credit_invoice(session, tenant, staff, invoice_id, form)
        return f"/admin/kunder/{customer_id}?done=credited"

    return await act(request, staff, FINANCE_ACTORS, work, f"/admin/kunder/{customer_id}")


# --- the personal or organisation number ----------------------------------------------------------

# How the number's form names its field when the service refuses it (beside the field).
ID_NUMBER_LABEL = "Person-/organisationsnummer"


@router.post("/admin/kunder/{customer_id}/nummer")
async def change_id_number(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The personal or organisation number, through the API's PATCH (``customers.service.update``,
    which checks it against the customer's type with python-stdnum); empty removes it. A refused
    number is shown in the form, beside the field, with what was typed (422)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        customer = customers.get(session, tenant, customer_id)
        before = {"id_number": customer.id_number}
        typed = form.get("id_number", "").strip()
        customers.update(session, tenant, customer.id, CustomerUpdate(id_number=typed or None))
        after = {"id_number": customer.id_number}
        audit_changes(session, staff, "customer.update", before, after, target=f"customer:{customer.id}")
        return f"/admin/kunder/{customer_id}?done=id_number"

    def refused(error: KvittError, form: dict[str, str]) -> Response | None:
        if error.param != "id_number":
            return None
        typed = form.get("id_number", "").strip()
        return _with_field_error(request, staff, customer_id, "id_number", error.message, typed)

    back = f"/admin/kunder/{customer_id}"
    return await act(request, staff, SUPPORT_ACTORS, work, back, refused=refused)


def _with_field_error(
    request: Request, staff: StaffMember, customer_id: int, field: str, message: str, typed: str
) -> Response:
    """The customer page again, the refused field marked with the service's message (422)."""
    data = read(request, staff, lambda session, tenant: customer_page_data(session, tenant, customer_id))
    context = {**data, "field_errors": {field: message}, "typed": {field: typed}, "done": None}
    return render.page(request, staff, "admin/customer.html", context, nav="customers", status_code=422)


# --- subscriptions and autogiro mandates ------------------------------------------------------------


def customers_subscription(session: Session, tenant: Tenant, customer_id: int, form: dict[str, str]) -> Subscription:
    """The form's ``subscription``, locked as the API locks it, when it is this customer's
    (another customer's, or another tenant's, is as missing as one that does not exist)."""
    customer = customers.get(session, tenant, customer_id)
    subscription_id = whole_number(form.get("subscription", ""), "subscription")
    subscription = subscriptions_service.get(session, tenant, subscription_id, for_update=True)
    if subscription.customer_id != customer.id:
        raise NotFound(f"no subscription {subscription_id} of this customer", param="subscription")
    return subscription


def _day(form: dict[str, str], field: str) -> date | None:
    value = form.get(field, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{field}: a date such as 2027-01-31", param=field) from None


def _subscription_state(session: Session, tenant: Tenant, subscription: Subscription) -> dict[str, Any]:
    pauses_now = subscriptions_service.pauses_of(session, tenant, [subscription.id])[subscription.id]
    return {
        "status": subscriptions_service.status(subscription, pauses_now, today_for(session, tenant)),
        "end_date": subscription.end_date,
        "next_period_start": subscription.next_period_start,
        "pauses": [{"start": p.start, "end": p.end} for p in pauses_now],
    }


def _subscription_action(
    customer_id: int,
    staff: StaffMember,
    action: str,
    change: Any,
) -> Any:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        subscription = customers_subscription(session, tenant, customer_id, form)
        before = _subscription_state(session, tenant, subscription)
        change(session, tenant, subscription, form)
        after = _subscription_state(session, tenant, subscription)
        audit(session, staff, action, before, after, target=f"subscription:{subscription.id}")
        return f"/admin/kunder/{customer_id}?done={action.split('.')[1]}"

    return work


@router.post("/admin/kunder/{customer_id}/abonnemang/paus")
async def pause_subscription(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Pause billing of one of the customer's subscriptions from ``start`` (default: the first day
    not yet billed) until ``end`` (empty: until resumed), as ``POST /subscriptions/{id}/pause``."""

    def change(session: Session, tenant: Tenant, subscription: Subscription, form: dict[str, str]) -> None:
        data = PauseIn(start=_day(form, "start"), end=_day(form, "end"))
        subscriptions_service.pause(session, tenant, subscription, data)

    work = _subscription_action(customer_id, staff, "subscription.pause", change)
    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


@router.post("/admin/kunder/{customer_id}/abonnemang/ateruppta")
async def resume_subscription(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """End the subscription's open pause on ``on`` (default: the first day not yet billed), as
    ``POST /subscriptions/{id}/resume``."""

    def change(session: Session, tenant: Tenant, subscription: Subscription, form: dict[str, str]) -> None:
        subscriptions_service.resume(session, tenant, subscription, ResumeIn(on=_day(form, "on")))

    work = _subscription_action(customer_id, staff, "subscription.resume", change)
    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


@router.post("/admin/kunder/{customer_id}/abonnemang/avsluta")
async def cancel_subscription(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """End the subscription on ``end_date`` (the first day without service; default: the first day
    not yet billed, or the binding period's end), as ``POST /subscriptions/{id}/cancel``."""

    def change(session: Session, tenant: Tenant, subscription: Subscription, form: dict[str, str]) -> None:
        subscriptions_service.cancel(session, tenant, subscription, CancelIn(end_date=_day(form, "end_date")))

    work = _subscription_action(customer_id, staff, "subscription.cancel", change)
    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")


@router.post("/admin/kunder/{customer_id}/autogiro/avsluta")
async def cancel_mandate(customer_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """Cancel one of the customer's autogiro mandates (``mandate`` in the form), as ``DELETE
    /api/v1/autogiro/mandates/{id}``: one Bankgirot knows of goes out as a TK03 in the next file,
    a pending one is dropped, and debits not yet ordered are cancelled."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        customer = customers.get(session, tenant, customer_id)
        mandate_id = whole_number(form.get("mandate", ""), "mandate")
        mandate = autogiro.get(session, tenant, mandate_id)
        if mandate.customer_id != customer.id:
            raise NotFound(f"no mandate {mandate_id} of this customer", param="mandate")
        before = {"status": mandate.status, "outgoing": mandate.outgoing}
        autogiro.cancel(session, tenant, mandate.id)
        after = {"status": mandate.status, "outgoing": mandate.outgoing}
        audit(session, staff, "mandate.cancel", before, after, target=f"mandate:{mandate.id}")
        return f"/admin/kunder/{customer.id}?done=mandate_cancelled"

    return await act(request, staff, SUPPORT_ACTORS, work, f"/admin/kunder/{customer_id}")
