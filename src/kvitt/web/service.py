"""Queries for the recipient's pages. Read only: nothing here writes (see visits, messages,
preferences for what the pages change).

The web token is the only key a recipient has. It is looked up as it is, through the unique
index on ``invoices.token``; the tenant comes from the invoice found, and every further query
is scoped to that tenant. A draft is never shown: to a recipient it does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.customers.models import Customer
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.tenants.models import Tenant

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

    @property
    def customer_language(self) -> str | None:
        return self.customer.language if self.customer is not None else None


def is_well_formed(token: str) -> bool:
    return TOKEN_PATTERN.fullmatch(token) is not None


def find_issued(session: Session, token: str) -> WebInvoice | None:
    """The issued invoice or credit note behind a web token; None for a draft or no match."""
    if not is_well_formed(token):
        return None
    invoice = session.scalar(select(Invoice).where(Invoice.token == token))
    if invoice is None or invoice.state == states.DRAFT:
        return None
    tenant = session.get_one(Tenant, invoice.tenant_id)
    events = invoices.events_of(session, tenant, [invoice.id])[invoice.id]
    credited_number = None
    if invoice.credited_invoice_id is not None:
        credited_number = invoices.get(session, tenant, invoice.credited_invoice_id).number
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == tenant.id, Customer.id == invoice.customer_id)
    )
    return WebInvoice(invoice, tenant, events, credited_number, customer)
