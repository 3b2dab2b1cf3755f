"""Dunning's use cases, as other features call them. Each runs in the caller's transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.errors import NotFound
from kvitt.core.pagination import Page, paginate
from kvitt.dunning import extensions, pauses, tick
from kvitt.dunning.models import DunningPause, PaymentExtension, ReferenceRate, Reminder
from kvitt.dunning.tick import TickResult
from kvitt.invoices import service as invoices
from kvitt.tenants.models import Tenant

__all__ = ["pause", "reminder_facts", "request_extension", "run", "set_reference_rate"]


def _tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}")
    return tenant


def pause(
    session: Session,
    tenant_id: int,
    *,
    invoice_id: int | None = None,
    customer_id: int | None = None,
    reason: str,
    until: date | None = None,
    actor: str = "system",
) -> DunningPause:
    """Stop dunning an invoice or a customer (until a date, inclusive, or until ended)."""
    return pauses.pause(
        session,
        _tenant(session, tenant_id),
        invoice_id=invoice_id,
        customer_id=customer_id,
        reason=reason,
        until=until,
        actor=actor,
    )


def request_extension(
    session: Session,
    tenant_id: int,
    invoice_id: int,
    *,
    until: date,
    reason: str | None,
    today: date,
    actor: str = "recipient",
) -> PaymentExtension:
    """Anstånd asked for by the recipient (e.g. from the web invoice): approved at once within the
    tenant's automatic limit, else waiting for a person (``POST /payment-extensions/{id}/approve``)."""
    tenant = _tenant(session, tenant_id)
    return extensions.request(session, tenant, invoice_id, until=until, reason=reason, today=today, actor=actor)


def run(session: Session, tenant: Tenant, *, today: date, actor: str = "system") -> TickResult:
    return tick.run(session, tenant, today=today, actor=actor)


def get_reminder(session: Session, tenant: Tenant, reminder_id: int) -> Reminder:
    row = session.scalar(select(Reminder).where(Reminder.tenant_id == tenant.id, Reminder.id == reminder_id))
    if row is None:
        raise NotFound(f"no reminder {reminder_id}", param="reminder")
    return row


def list_reminders(
    session: Session, tenant: Tenant, *, limit: int, starting_after: int | None, invoice: int | None = None
) -> Page[Reminder]:
    query = select(Reminder).where(Reminder.tenant_id == tenant.id)
    if invoice is not None:
        query = query.where(Reminder.invoice_id == invoice)
    return paginate(session, query, Reminder.id, limit=limit, starting_after=starting_after)


def reminder_facts(session: Session, tenant_id: int, reminder_id: int) -> dict[str, Any]:
    """What a reminder document shows (delivery and the web invoice render it): the invoice, the
    level, the new due date, the fee and interest and where to pay them, the total asked for."""
    tenant = _tenant(session, tenant_id)
    reminder = get_reminder(session, tenant, reminder_id)
    invoice = invoices.get(session, tenant, reminder.invoice_id)
    charge = invoices.get(session, tenant, reminder.charge_invoice_id) if reminder.charge_invoice_id else None
    return {
        "reminder": reminder.id,
        "number": reminder.number,
        "level": reminder.level,
        "sent_on": reminder.sent_on.isoformat(),
        "due_date": reminder.due_date.isoformat(),
        "invoice": invoice.id,
        "invoice_number": invoice.number,
        "invoice_ocr": invoice.ocr,
        "invoice_due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "principal": reminder.principal,
        "fee": reminder.fee,
        "fee_kind": reminder.fee_kind,
        "interest": reminder.interest,
        "interest_from": reminder.interest_from.isoformat() if reminder.interest_from else None,
        "interest_to": reminder.interest_to.isoformat() if reminder.interest_to else None,
        "interest_rates_bp": reminder.interest_rates_bp,
        "charge_invoice": charge.id if charge else None,
        "charge_number": charge.number if charge else None,
        "charge_ocr": charge.ocr if charge else None,
        "charge_total": charge.total if charge else 0,
        "total_due": reminder.principal + (charge.total if charge else 0),
        "interest_rule": "dag för dag efter förfallodagen, saldo × (referensränta + marginal) / 365, "
        "summan avrundad till hela ören (räntelagen 6 §)",
    }


def set_reference_rate(session: Session, valid_from: date, rate_bp: int, source: str) -> ReferenceRate:
    """The operator records Riksbanken's reference rate for a half-year (1 January or 1 July)."""
    if (valid_from.month, valid_from.day) not in ((1, 1), (7, 1)):
        from kvitt.core.errors import ValidationFailed

        raise ValidationFailed("a reference rate is fixed for a half-year: 1 January or 1 July", param="valid_from")
    row = session.get(ReferenceRate, valid_from)
    if row is None:
        row = ReferenceRate(valid_from=valid_from, rate_bp=rate_bp, source=source)
        session.add(row)
    else:
        row.rate_bp, row.source = rate_bp, source
    session.flush()
    return row


def reference_rates(session: Session) -> list[ReferenceRate]:
    return list(session.scalars(select(ReferenceRate).order_by(ReferenceRate.valid_from.desc())))
