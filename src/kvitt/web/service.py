"""Queries for the recipient's pages. Read only: nothing here writes (see visits, messages,
preferences for what the pages change).

The web token is the only key a recipient has. It is looked up as it is, through the unique
index on ``invoices.token``; the tenant comes from the invoice found, and every further query
is scoped to that tenant. A draft is never shown: to a recipient it does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session, aliased, joinedload

from kvitt.autogiro import debits as autogiro
from kvitt.autogiro import service as mandates
from kvitt.autogiro.models import Debit, Mandate
from kvitt.core import clock
from kvitt.customers.models import Customer
from kvitt.invoices import states
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.tenants.models import Tenant
from kvitt.web.models import WebInvoiceVisit

# Tokens are ``secrets.token_urlsafe`` output (kvitt.core.tokens): URL-safe base64 letters.
# Anything else is refused before it reaches the database.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class WebInvoice:
    invoice: Invoice
    tenant: Tenant
    events: list[InvoiceEvent]
    # For a credit note: the number of the invoice it credits.
    credited_number: int | None = None
    # The customer as they are now (their delivery settings and language), not as billed.
    customer: Customer | None = None
    # The visit row (first/last opened, the form key); None before the first view.
    visit: WebInvoiceVisit | None = None
    # The day autogiro debits the invoice ("Dras via autogiro <date>"); None: the payer pays.
    autogiro_on: date | None = None

    @property
    def customer_language(self) -> str | None:
        return self.customer.language if self.customer is not None else None


def is_well_formed(token: str) -> bool:
    return TOKEN_PATTERN.fullmatch(token) is not None


CREDITED = aliased(Invoice, name="credited")
# Built once, with a bound parameter: building the statement and its cache key per request was
# a fifth of the page's time (the web invoice is the recipients' hottest read, issue 20).
_ACTIVE_MANDATE = (
    exists()
    .where(
        Mandate.tenant_id == Invoice.tenant_id,
        Mandate.customer_id == Invoice.customer_id,
        Mandate.status == "active",
    )
    .label("has_active_mandate")
)
_ISSUED_BY_TOKEN = (
    select(Invoice, Tenant, Customer, WebInvoiceVisit, CREDITED.number, Debit.status, Debit.debit_on, _ACTIVE_MANDATE)
    .join(Tenant, Tenant.id == Invoice.tenant_id)
    .outerjoin(Customer, (Customer.tenant_id == Invoice.tenant_id) & (Customer.id == Invoice.customer_id))
    .outerjoin(
        WebInvoiceVisit,
        (WebInvoiceVisit.tenant_id == Invoice.tenant_id) & (WebInvoiceVisit.invoice_id == Invoice.id),
    )
    .outerjoin(CREDITED, (CREDITED.tenant_id == Invoice.tenant_id) & (CREDITED.id == Invoice.credited_invoice_id))
    .outerjoin(Debit, (Debit.tenant_id == Invoice.tenant_id) & (Debit.invoice_id == Invoice.id))
    .options(joinedload(Invoice.lines))
    .where(Invoice.token == bindparam("token"), Invoice.state != states.DRAFT)
)
_ITS_EVENTS = (
    select(InvoiceEvent)
    .where(InvoiceEvent.tenant_id == bindparam("tenant_id"), InvoiceEvent.invoice_id == bindparam("invoice_id"))
    .order_by(InvoiceEvent.id)
)


def find_issued(session: Session, token: str) -> WebInvoice | None:
    """The issued invoice or credit note behind a web token; None for a draft or no match.

    Two statements: the invoice joined with its lines, its tenant, the customer, its visit row,
    the number of the invoice it credits and its autogiro facts (its debit, an active mandate);
    then its timeline. The tenant comes from the invoice found by its token, and every join is
    on that tenant."""
    if not is_well_formed(token):
        return None
    row = session.execute(_ISSUED_BY_TOKEN, {"token": token}).unique().one_or_none()
    if row is None:
        return None
    invoice, tenant, customer, visit, credited_number, debit_status, debit_on, has_mandate = row
    events = list(session.scalars(_ITS_EVENTS, {"tenant_id": tenant.id, "invoice_id": invoice.id}))
    autogiro_on = autogiro.debit_day_of(
        invoice,
        (debit_status, debit_on) if debit_status is not None else None,
        bool(has_mandate),
        lead=lambda: mandates.settings_of(session, tenant).banking_days_before,
        today=clock.today(),
    )
    return WebInvoice(invoice, tenant, events, credited_number, customer, visit, autogiro_on)
