"""The recipient's own pages ("mina sidor"): a magic link sent to the email or the mobile phone
on file, and what the pages show (every invoice with this issuer, open and paid, newest first).

No passwords: from any web invoice the recipient asks for a link, by email or by SMS as they
choose; it goes to the customer's address or phone number on file (never to one typed on the
page: the SMS job reads the number from the customer when it sends), holds 256 random bits, is
stored only as its SHA-256, and opens the pages for :data:`VALID` days. At most
:data:`LINKS_PER_HOUR` links an hour and :data:`LINKS_PER_DAY` a day per customer, both channels
together: a page holder cannot flood the customer's inbox or phone (nor the issuer's SMS bill).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kvitt.autogiro.models import Mandate
from kvitt.core.config import get_settings
from kvitt.core.db import is_postgresql
from kvitt.core.outbox import enqueue
from kvitt.customers.models import Customer
from kvitt.engagement.models import RecipientLink
from kvitt.invoices.models import Invoice
from kvitt.payments.models import Allocation, Payment
from kvitt.tenants.models import Tenant

VALID = timedelta(days=7)
LINKS_PER_HOUR = 3
LINKS_PER_DAY = 10
LINKS_LOCK = 0x4B4D  # advisory-lock namespace for a customer's links ("KM")
EMAIL, SMS = "email", "sms"
# Delivery's plain-text email and customer SMS jobs (kvitt.delivery.jobs), named here rather than
# imported: delivery shows this feature's placements in its messages, so the arrow between the
# two points that way.
EMAIL_JOB = "delivery.staff_email"
SMS_JOB = "delivery.customer_sms"
ISSUED = ("unpaid", "partly_paid", "overdue", "in_collection", "paid", "credited", "written_off")
OPEN = ("unpaid", "partly_paid", "overdue", "in_collection")
MAX_INVOICES = 200
MAX_PAYMENTS = 100
SUBJECT = {"sv": "Din länk till Mina sidor hos {issuer}", "en": "Your link to your pages at {issuer}"}
TEXT = {
    "sv": "Hej {name}!\n\nHär är din länk till Mina sidor hos {issuer}: alla dina fakturor, betalningar och "
    "inställningar.\n\n{url}\n\nLänken gäller i 7 dagar. Har du inte bett om den kan du bortse från det här "
    "mejlet.\n",
    "en": "Hello {name},\n\nHere is your link to your pages at {issuer}: all your invoices, payments and "
    "settings.\n\n{url}\n\nThe link is valid for 7 days. If you did not ask for it, you can ignore this email.\n",
}
SMS_TEXT = {
    "sv": "{issuer}: din länk till Mina sidor (gäller 7 dagar): {url}",
    "en": "{issuer}: your link to your pages (valid for 7 days): {url}",
}
log = structlog.get_logger("kvitt.engagement.recipient")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_link(
    session: Session, tenant: Tenant, invoice: Invoice, *, base_url: str, now: datetime, channel: str = EMAIL
) -> bool:
    """Send a new link to the invoice's customer by ``channel`` (``email`` to the address on
    file, ``sms`` to the phone on file); False when there is none, or when the customer had
    their links for the hour or the day (nothing is sent then)."""
    if channel not in (EMAIL, SMS):
        raise ValueError(f"a link goes by email or sms, not {channel!r}")
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == tenant.id, Customer.id == invoice.customer_id)
    )
    if customer is None or not (customer.email if channel == EMAIL else customer.phone):
        return False
    if _limited(session, tenant.id, customer.id, now):
        log.info("mypages_link_limited", tenant_id=tenant.id, customer_id=customer.id, channel=channel)
        return False
    token = secrets.token_urlsafe(32)
    session.add(
        RecipientLink(
            tenant_id=tenant.id,
            customer_id=customer.id,
            token_hash=_hash(token),
            channel=channel,
            created_at=now,
            expires_at=now + VALID,
        )
    )
    lang = customer.language if customer.language in TEXT else "sv"
    words = {"name": customer.name, "issuer": tenant.name, "url": f"{base_url}/m/{token}"}
    attempts = get_settings().job_max_attempts
    if channel == EMAIL:
        subject = SUBJECT[lang].format(**words)[:200]
        email = {"to": customer.email, "subject": subject, "text": TEXT[lang].format(**words)}
        enqueue(session, EMAIL_JOB, email, tenant_id=tenant.id, max_attempts=attempts)
    else:
        # The customer's id, not a number: the job reads the phone on file when it sends.
        sms = {"customer_id": customer.id, "text": SMS_TEXT[lang].format(**words)}
        enqueue(session, SMS_JOB, sms, tenant_id=tenant.id, max_attempts=attempts)
    session.flush()
    return True


def _limited(session: Session, tenant_id: int, customer_id: int, now: datetime) -> bool:
    """Whether the customer was sent :data:`LINKS_PER_HOUR` links in the last hour or
    :data:`LINKS_PER_DAY` in the last day. Two requests at once are counted one after the other
    (PostgreSQL: an advisory lock per customer; SQLite: its one writer at a time)."""
    if is_postgresql(session):
        key = customer_id % 2_147_483_647
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": LINKS_LOCK, "key": key})
    recent = select(RecipientLink.created_at).where(
        RecipientLink.tenant_id == tenant_id,
        RecipientLink.customer_id == customer_id,
        RecipientLink.created_at > now - timedelta(days=1),
    )
    times = list(session.scalars(recent.order_by(RecipientLink.created_at.desc()).limit(LINKS_PER_DAY)))
    last_hour = sum(1 for at in times if at > now - timedelta(hours=1))
    return len(times) >= LINKS_PER_DAY or last_hour >= LINKS_PER_HOUR


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


@dataclass
class PaymentShown:
    """One of the customer's payments as Mina sidor lists it: when, how much, how (the
    payment's ``source``: bankgiro, swish, card, autogiro, manual, api) and which of the
    customer's invoices it paid (number and web-invoice token, in the order allocated)."""

    id: int
    day: date
    amount: int  # öre
    method: str
    invoices: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class MandateShown:
    """One of the customer's autogiro mandates: its state and the bank account, whose number the
    page masks (clearing number and the last four digits)."""

    id: int
    status: str
    clearing: str
    account: str


def payments_of(session: Session, tenant_id: int, customer_id: int) -> list[PaymentShown]:
    """The customer's payments, newest first (at most :data:`MAX_PAYMENTS`): the payments booked
    to the customer (matched to their invoices, or held for them), each with the customer's
    invoices it reached. Two queries, both scoped to the tenant and the customer."""
    rows = list(
        session.scalars(
            select(Payment)
            .where(Payment.tenant_id == tenant_id, Payment.customer_id == customer_id, Payment.amount != 0)
            .order_by(Payment.date.desc(), Payment.id.desc())
            .limit(MAX_PAYMENTS)
        )
    )
    shown = {p.id: PaymentShown(p.id, p.date, p.amount, p.source) for p in rows}
    if shown:
        reached = session.execute(
            select(Allocation.payment_id, Invoice.number, Invoice.token, func.sum(Allocation.amount))
            .join(Invoice, Invoice.id == Allocation.invoice_id)
            .where(
                Allocation.tenant_id == tenant_id,
                Allocation.kind.in_(("invoice", "credit_applied")),  # its money on the invoice, directly or held first
                Allocation.payment_id.in_(sorted(shown)),
                Invoice.tenant_id == tenant_id,
                Invoice.customer_id == customer_id,
                Invoice.state.in_(ISSUED),
            )
            .group_by(Allocation.payment_id, Invoice.id, Invoice.number, Invoice.token)
            .order_by(func.min(Allocation.id))
        )
        for payment_id, number, token, amount in reached:
            if amount > 0:  # not one that was allocated and taken back again
                shown[payment_id].invoices.append((str(number), token))
    return list(shown.values())


def mandates_of(session: Session, tenant_id: int, customer_id: int) -> list[MandateShown]:
    """The customer's autogiro mandates, newest first, scoped to the tenant and the customer."""
    rows = session.scalars(
        select(Mandate)
        .where(Mandate.tenant_id == tenant_id, Mandate.customer_id == customer_id)
        .order_by(Mandate.id.desc())
        .limit(20)
    )
    return [MandateShown(m.id, m.status, m.clearing, m.account) for m in rows]
