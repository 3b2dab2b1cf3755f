"""The hand-over to collection: the case as the agency gets it, the export file, and the sync.

The tick creates a ``collection_cases`` row (state ``pending``) and a ``dunning.submit_case``
job in its transaction. The job sends the case to the tenant's agency when one is configured
(``open`` with the agency's id), else the case stays ``pending`` and reaches the agency in the
export file. The agency's events (payments it collected, the case closed) are read by the
``dunning.collection_sync`` job and applied once each (``collection_events`` has a UNIQUE key on
the agency's event id).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.core.errors import NotFound
from kvitt.core.pagination import Page, paginate
from kvitt.customers.models import Customer
from kvitt.dunning.agency import CollectionAgency, HttpAgency
from kvitt.dunning.extensions import settings_of
from kvitt.dunning.models import CollectionCase, CollectionEvent
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.tenants.models import Tenant

COLLECTION_SOURCE = "collection"  # payments.source of money the agency passed on
EXPORT_COLUMNS = (
    "case_id",
    "creditor_reference",
    "handed_over_on",
    "customer_no",
    "debtor_type",
    "name",
    "id_number",
    "address_line1",
    "postal_code",
    "city",
    "email",
    "phone",
    "invoice_number",
    "ocr",
    "invoice_date",
    "due_date",
    "principal_ore",
    "charges_ore",
    "fee_kind",
    "fee_ore",
)


def agency_for(session: Session, tenant: Tenant) -> CollectionAgency | None:
    settings = settings_of(session, tenant)
    if not settings.agency_url:
        return None
    return HttpAgency(settings.agency_url, settings.agency_api_key or "")


def case_payload(session: Session, tenant: Tenant, case: CollectionCase) -> dict[str, Any]:
    invoice = invoices.get(session, tenant, case.invoice_id)
    customer = session.get(Customer, case.customer_id)
    assert customer is not None and customer.tenant_id == tenant.id
    return {
        "creditor_reference": f"kvitt-{tenant.id}-{case.id}",
        "debtor": {
            "name": customer.name,
            "type": customer.type,
            "id_number": customer.id_number,
            "address_line1": customer.address_line1,
            "postal_code": customer.postal_code,
            "city": customer.city,
            "email": customer.email,
            "phone": customer.phone,
        },
        "invoice": {
            "number": str(invoice.number),
            "ocr": invoice.ocr,
            "invoice_date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
            "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        },
        "principal": case.principal,
        "charges": case.charges,
        "fee": case.fee,
        "fee_kind": case.fee_kind,
    }


def submit(session: Session, tenant: Tenant, case_id: int, agency: CollectionAgency | None) -> CollectionCase:
    """Send a pending case to the agency (a retry sends the same creditor reference: one case)."""
    case = get(session, tenant, case_id)
    if case.state != "pending" or agency is None:
        return case
    answer = agency.create_case(case_payload(session, tenant, case))
    case.external_id = str(answer["id"])
    case.state = "open"
    session.flush()
    return case


def sync(session: Session, tenant: Tenant, agency: CollectionAgency, *, today: date) -> int:
    """Apply the agency's new events; returns how many were applied."""
    settings = settings_of(session, tenant)
    applied = 0
    while True:
        events, more = agency.events(settings.agency_cursor)
        for event in events:
            if _apply(session, tenant, event, today=today):
                applied += 1
            settings.agency_cursor = max(settings.agency_cursor, int(event["seq"]))
        session.flush()
        if not more or not events:
            return applied


def _apply(session: Session, tenant: Tenant, event: dict[str, Any], *, today: date) -> bool:
    case = session.scalar(
        select(CollectionCase).where(
            CollectionCase.tenant_id == tenant.id, CollectionCase.external_id == str(event["case"])
        )
    )
    seen = CollectionEvent(
        tenant_id=tenant.id,
        case_id=case.id if case else None,
        external_id=str(event["id"]),
        type=str(event["type"])[:20],
        data=event,
    )
    try:
        with session.begin_nested():
            session.add(seen)
            session.flush()
    except IntegrityError:
        return False  # applied before
    if case is None:
        seen.note = "no such case in Kvitt"
        return True
    on = date.fromisoformat(event["date"]) if event.get("date") else today
    if event["type"] == "payment":
        _collected(session, tenant, case, int(event["amount"]), on, event_id=str(event["id"]), today=today)
    elif event["type"] == "closed":
        _closed(session, tenant, case, str(event.get("reason") or "closed"), today=today)
    return True


def _collected(
    session: Session, tenant: Tenant, case: CollectionCase, amount: int, on: date, *, event_id: str, today: date
) -> None:
    from kvitt.payments import service as payments
    from kvitt.payments.service import Incoming

    invoice = invoices.get(session, tenant, case.invoice_id)
    reference = f"inkasso {case.external_id} {event_id}"[:100]
    if invoice.state in states.OPEN_STATES:
        payments.pay_invoice(
            session,
            tenant,
            invoice,
            amount,
            on=on,
            today=today,
            reference=reference,
            actor="agency",
            source=COLLECTION_SOURCE,
        )
    else:
        incoming = Incoming(amount, on, COLLECTION_SOURCE, reference=reference, customer_id=invoice.customer_id)
        payments.register(session, tenant, incoming, today=today, actor="agency")
    case.collected += amount
    session.flush()
    record(
        session,
        tenant.id,
        [
            Happening(
                case.invoice_id,
                "collection_payment",
                "agency",
                {"case": case.id, "amount": amount, "date": on.isoformat()},
            )
        ],
    )


def _closed(session: Session, tenant: Tenant, case: CollectionCase, reason: str, *, today: date) -> None:
    if case.state == "closed":
        return
    case.state, case.closed_reason, case.closed_on = "closed", reason[:40], today
    session.flush()
    data = {"case": case.id, "reason": reason, "collected": case.collected}
    ids = [case.invoice_id, *[int(i) for i in case.data.get("charge_invoices", [])]]
    returned = False
    for invoice in invoices.get_many(session, tenant, ids):
        if invoice.state == states.IN_COLLECTION:
            invoices.return_from_collection(session, tenant, invoice, today=today, actor="agency", data=data)
            returned = True
    if not returned:
        record(session, tenant.id, [Happening(case.invoice_id, "collection_ended", "agency", data)])


def report_direct_payment(
    session: Session, tenant: Tenant, invoice_id: int, amount: int, on: date, agency: CollectionAgency
) -> bool:
    """Tell the agency the creditor was paid directly on an invoice it is collecting."""
    case = session.scalar(
        select(CollectionCase).where(
            CollectionCase.tenant_id == tenant.id,
            CollectionCase.invoice_id == invoice_id,
            CollectionCase.state == "open",
        )
    )
    if case is None or case.external_id is None:
        return False
    agency.report_payment(case.external_id, amount, on)
    return True


def export_csv(session: Session, tenant: Tenant, *, handed_over_on: date | None = None) -> str:
    """The cases as a file for an agency without an API: UTF-8, semicolons, amounts in öre."""
    query = (
        select(CollectionCase, Invoice, Customer)
        .join(Invoice, Invoice.id == CollectionCase.invoice_id)
        .join(Customer, Customer.id == CollectionCase.customer_id)
        .where(CollectionCase.tenant_id == tenant.id)
        .order_by(CollectionCase.id)
    )
    if handed_over_on is not None:
        query = query.where(CollectionCase.handed_over_on == handed_over_on)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for case, invoice, customer in session.execute(query):
        writer.writerow(
            [
                case.id,
                f"kvitt-{tenant.id}-{case.id}",
                case.handed_over_on.isoformat(),
                customer.customer_no,
                customer.type,
                customer.name,
                customer.id_number or "",
                customer.address_line1 or "",
                customer.postal_code or "",
                customer.city or "",
                customer.email or "",
                customer.phone or "",
                invoice.number,
                invoice.ocr or "",
                invoice.invoice_date.isoformat() if invoice.invoice_date else "",
                invoice.due_date.isoformat() if invoice.due_date else "",
                case.principal,
                case.charges,
                case.fee_kind or "",
                case.fee,
            ]
        )
    return out.getvalue()


def get(session: Session, tenant: Tenant, case_id: int) -> CollectionCase:
    row = session.scalar(
        select(CollectionCase).where(CollectionCase.tenant_id == tenant.id, CollectionCase.id == case_id)
    )
    if row is None:
        raise NotFound(f"no collection case {case_id}", param="collection_case")
    return row


def list_page(
    session: Session, tenant: Tenant, *, limit: int, starting_after: int | None, state: str | None = None
) -> Page[CollectionCase]:
    query = select(CollectionCase).where(CollectionCase.tenant_id == tenant.id)
    if state is not None:
        query = query.where(CollectionCase.state == state)
    return paginate(session, query, CollectionCase.id, limit=limit, starting_after=starting_after)
