"""Messages between the recipient and the issuer, kept as invoice events.

A message is an event on the invoice's timeline: ``message_received`` when the recipient wrote
it on the web invoice, ``message_sent`` when staff (through the API) or the system wrote it.
The timeline is then the one record of the conversation, and webhooks and automation see each
message as the domain event ``invoice.message_received``/``invoice.message_sent``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.outbox import enqueue
from kvitt.invoices import states
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.invoices.timeline import DOMAIN_EVENT_JOB

AUTHORS = ("recipient", "staff", "system")
RECEIVED = "message_received"
SENT = "message_sent"
MESSAGE_TYPES = (RECEIVED, SENT)
MAX_LENGTH = 2000


def clean_text(text: str) -> str:
    """The message as stored: line ends unified, outer blank space dropped, no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ValidationFailed("write a message", param="text", code="message_empty")
    if len(text) > MAX_LENGTH:
        raise ValidationFailed(f"a message holds at most {MAX_LENGTH} characters", param="text")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise ValidationFailed("the message holds control characters", param="text")
    return text


def post_message(session: Session, tenant_id: int, invoice_id: int, *, author: str, text: str) -> dict[str, Any]:
    """Add a message to an issued invoice's conversation; returns it as the API shows it.

    ``author`` is ``recipient`` (written on the web invoice), ``staff`` or ``system``. A message
    from the recipient is also mailed to the issuer's staff (through the outbox) when the tenant
    has an address for them.
    """
    if author not in AUTHORS:
        raise ValidationFailed(f"author must be one of {', '.join(AUTHORS)}", param="author")
    invoice = session.scalar(select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id))
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}", param="invoice")
    if invoice.state == states.DRAFT:
        raise Conflict("a draft has no recipient to talk to yet; issue it first", code="invoice_not_issued")
    text = clean_text(text)
    event_type = RECEIVED if author == "recipient" else SENT
    event = InvoiceEvent(
        tenant_id=tenant_id,
        invoice_id=invoice_id,
        type=event_type,
        at=utcnow(),
        actor=author,
        data={"author": author, "text": text},
    )
    session.add(event)
    session.flush()
    enqueue(
        session,
        DOMAIN_EVENT_JOB,
        {"type": f"invoice.{event_type}", "invoice_id": invoice_id, "data": event.data},
        tenant_id=tenant_id,
    )
    if author == "recipient":
        _tell_staff(session, tenant_id, invoice, text)
    return message_out(event)


def _tell_staff(session: Session, tenant_id: int, invoice: Invoice, text: str) -> None:
    from kvitt.delivery.service import notify_staff  # here, not at the top: delivery imports invoices

    subject = f"Meddelande om faktura {invoice.number}"
    notify_staff(session, tenant_id, subject, f"{invoice.buyer.get('name', '')} skriver:\n\n{text}")


def messages_of(session: Session, tenant_id: int, invoice_id: int) -> list[InvoiceEvent]:
    return list(
        session.scalars(
            select(InvoiceEvent)
            .where(
                InvoiceEvent.tenant_id == tenant_id,
                InvoiceEvent.invoice_id == invoice_id,
                InvoiceEvent.type.in_(MESSAGE_TYPES),
            )
            .order_by(InvoiceEvent.id)
        )
    )


def message_out(event: InvoiceEvent) -> dict[str, Any]:
    at: datetime = event.at
    return {
        "id": event.id,
        "object": "message",
        "invoice": event.invoice_id,
        "author": event.data.get("author", event.actor),
        "text": event.data.get("text", ""),
        "created_at": at,
    }
