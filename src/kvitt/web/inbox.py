"""The tenant-wide inbox of customer messages: every conversation (an invoice's messages), the
unanswered first (its last message is the customer's), and the messages as one list for
integrations (``GET /api/v1/messages``). Messages are invoice events (``web.messages``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from kvitt.core.pagination import Page, paginate
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.web.messages import MESSAGE_TYPES, RECEIVED


@dataclass(frozen=True)
class Conversation:
    invoice: Invoice
    last: InvoiceEvent
    unanswered: bool


def conversations(
    session: Session, tenant_id: int, *, unanswered_only: bool = False, limit: int = 50, offset: int = 0
) -> list[Conversation]:
    """Conversations, the unanswered first, then the most recent first."""
    last = (
        select(InvoiceEvent.invoice_id, func.max(InvoiceEvent.id).label("last_id"))
        .where(InvoiceEvent.tenant_id == tenant_id, InvoiceEvent.type.in_(MESSAGE_TYPES))
        .group_by(InvoiceEvent.invoice_id)
        .subquery()
    )
    waiting = case((InvoiceEvent.type == RECEIVED, 0), else_=1)
    query = (
        select(InvoiceEvent, Invoice)
        .join(last, InvoiceEvent.id == last.c.last_id)
        .join(Invoice, and_(Invoice.id == InvoiceEvent.invoice_id, Invoice.tenant_id == tenant_id))
        .where(InvoiceEvent.tenant_id == tenant_id)
    )
    if unanswered_only:
        query = query.where(InvoiceEvent.type == RECEIVED)
    rows = session.execute(query.order_by(waiting, InvoiceEvent.id.desc()).limit(limit).offset(offset)).all()
    return [Conversation(invoice, event, event.type == RECEIVED) for event, invoice in rows]


def messages_page(
    session: Session,
    tenant_id: int,
    *,
    limit: int,
    starting_after: int | None,
    author: str | None = None,
    unanswered: bool | None = None,
) -> Page[InvoiceEvent]:
    """Messages of every invoice, newest first; ``unanswered``: the customer's messages with no
    answer after them (True), or the others (False)."""
    query: Select[Any] = select(InvoiceEvent).where(
        InvoiceEvent.tenant_id == tenant_id, InvoiceEvent.type.in_(MESSAGE_TYPES)
    )
    if author is not None:
        query = query.where(InvoiceEvent.type == (RECEIVED if author == "recipient" else "message_sent"))
        if author != "recipient":
            query = query.where(InvoiceEvent.actor == author)
    if unanswered is not None:
        later = aliased(InvoiceEvent)
        answered = exists(
            select(later.id).where(
                later.tenant_id == tenant_id,
                later.invoice_id == InvoiceEvent.invoice_id,
                later.type == "message_sent",
                later.id > InvoiceEvent.id,
            )
        )
        waiting = and_(InvoiceEvent.type == RECEIVED, ~answered)
        query = query.where(waiting if unanswered else ~waiting)
    return paginate(session, query, InvoiceEvent.id, limit=limit, starting_after=starting_after)


def thread(session: Session, tenant_id: int, invoice_ids: list[int]) -> dict[int, list[InvoiceEvent]]:
    """The messages of these invoices, oldest first."""
    found: dict[int, list[InvoiceEvent]] = {invoice_id: [] for invoice_id in invoice_ids}
    if not invoice_ids:
        return found
    query = (
        select(InvoiceEvent)
        .where(
            InvoiceEvent.tenant_id == tenant_id,
            InvoiceEvent.invoice_id.in_(invoice_ids),
            InvoiceEvent.type.in_(MESSAGE_TYPES),
        )
        .order_by(InvoiceEvent.id)
    )
    for event in session.scalars(query):
        found[event.invoice_id].append(event)
    return found
