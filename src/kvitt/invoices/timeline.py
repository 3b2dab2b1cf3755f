"""Appending to invoices' timelines and publishing the matching domain events (outbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kvitt.core import events
from kvitt.core.db import bulk_insert, utcnow
from kvitt.core.events import DOMAIN_EVENT_JOB
from kvitt.invoices.models import InvoiceEvent

__all__ = ["DOMAIN_EVENT_JOB", "Happening", "publish_events", "record"]


@dataclass
class Happening:
    invoice_id: int
    type: str  # e.g. "issued"; published as "invoice.issued"
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


def record(
    session: Session, tenant_id: int, happenings: list[Happening], *, bundle: bool = False, publish: bool = True
) -> None:
    """Append the events to the timelines and enqueue them for subscribers, in one go
    (``bundle``: as one outbox row, see ``events.publish``). ``publish=False`` only appends: the
    caller publishes them later in the same unit of work (``publish_events``)."""
    if not happenings:
        return
    now = utcnow()
    bulk_insert(
        session,
        InvoiceEvent,
        [
            {
                "tenant_id": tenant_id,
                "invoice_id": h.invoice_id,
                "type": h.type,
                "at": now,
                "actor": h.actor,
                "data": h.data,
            }
            for h in happenings
        ],
    )
    if publish:
        publish_events(session, tenant_id, happenings, bundle=bundle)


def publish_events(session: Session, tenant_id: int, happenings: list[Happening], *, bundle: bool = False) -> None:
    """Enqueue the domain events of happenings on the timelines (``record``)."""
    events.publish(
        session,
        tenant_id,
        [{"type": f"invoice.{h.type}", "invoice_id": h.invoice_id, "data": h.data} for h in happenings],
        bundle=bundle,
    )
