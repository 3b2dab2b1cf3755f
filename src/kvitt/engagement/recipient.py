"""The recipient's own pages ("mina sidor"): a magic link sent to the email on file, and what the
pages show (every invoice with this issuer, open and paid, newest first).

No passwords: from any web invoice the recipient asks for a link; it goes to the customer's
email address on file (never to an address typed on the page), holds 256 random bits, is stored
only as its SHA-256, and opens the pages for :data:`VALID` days.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.config import get_settings
from kvitt.core.outbox import enqueue
from kvitt.customers.models import Customer
from kvitt.engagement.models import RecipientLink
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant

VALID = timedelta(days=7)
# Delivery's plain-text email job (kvitt.delivery.jobs), named here rather than imported: delivery
# shows this feature's placements in its emails, so the arrow between the two points that way.
EMAIL_JOB = "delivery.staff_email"
ISSUED = ("unpaid", "partly_paid", "overdue", "in_collection", "paid", "credited", "written_off")
OPEN = ("unpaid", "partly_paid", "overdue", "in_collection")
MAX_INVOICES = 200
SUBJECT = {"sv": "Din länk till Mina sidor hos {issuer}", "en": "Your link to your pages at {issuer}"}
TEXT = {
    "sv": "Hej {name}!\n\nHär är din länk till Mina sidor hos {issuer}: alla dina fakturor, betalningar och "
    "inställningar.\n\n{url}\n\nLänken gäller i 7 dagar. Har du inte bett om den kan du bortse från det här "
    "mejlet.\n",
    "en": "Hello {name},\n\nHere is your link to your pages at {issuer}: all your invoices, payments and "
    "settings.\n\n{url}\n\nThe link is valid for 7 days. If you did not ask for it, you can ignore this email.\n",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_link(session: Session, tenant: Tenant, invoice: Invoice, *, base_url: str, now: datetime) -> bool:
    """Email a new link to the invoice's customer; False when there is no address on file."""
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == tenant.id, Customer.id == invoice.customer_id)
    )
    if customer is None or not customer.email:
        return False
    token = secrets.token_urlsafe(32)
    session.add(
        RecipientLink(
            tenant_id=tenant.id,
            customer_id=customer.id,
            token_hash=_hash(token),
            created_at=now,
            expires_at=now + VALID,
        )
    )
    lang = customer.language if customer.language in TEXT else "sv"
    words = {"name": customer.name, "issuer": tenant.name, "url": f"{base_url}/m/{token}"}
    payload = {"to": customer.email, "subject": SUBJECT[lang].format(**words)[:200], "text": TEXT[lang].format(**words)}
    enqueue(session, EMAIL_JOB, payload, tenant_id=tenant.id, max_attempts=get_settings().job_max_attempts)
    session.flush()
    return True


@dataclass
class Opened:
    tenant: Tenant
    customer: Customer
    invoices: list[Invoice]


def open_link(session: Session, token: str, now: datetime) -> Opened | None:
    """The recipient's tenant, customer and invoices for a valid link; None for anything else."""
    if not 20 <= len(token) <= 100:
        return None
    link = session.scalar(
        select(RecipientLink).where(RecipientLink.token_hash == _hash(token), RecipientLink.expires_at > now)
    )
    if link is None:
        return None
    tenant = session.get(Tenant, link.tenant_id)
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == link.tenant_id, Customer.id == link.customer_id)
    )
    if tenant is None or customer is None:
        return None
    invoices = list(
        session.scalars(
            select(Invoice)
            .where(Invoice.tenant_id == tenant.id, Invoice.customer_id == customer.id, Invoice.state.in_(ISSUED))
            .order_by(Invoice.id.desc())
            .limit(MAX_INVOICES)
        )
    )
    return Opened(tenant, customer, invoices)
