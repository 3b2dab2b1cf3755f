"""Anstånd: the recipient asks to pay later; a rule approves short ones, a person the rest.

An approved extension moves the date dunning counts from (the first step's days run from the
extension's date instead of the due date) and the date late interest runs from: the creditor
has agreed to wait, so the debt is not late before then.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.dunning.models import DunningSettings, PaymentExtension
from kvitt.dunning.schemas import SettingsUpdate
from kvitt.invoices import service as invoices
from kvitt.invoices import states
from kvitt.invoices.timeline import Happening, record
from kvitt.tenants.models import Tenant


def settings_of(session: Session, tenant: Tenant) -> DunningSettings:
    row = session.get(DunningSettings, tenant.id)
    if row is None:
        row = DunningSettings(tenant_id=tenant.id, extension_auto_days=14, extension_max_days=60, agency_cursor=0)
        session.add(row)
        session.flush()
    return row


def update_settings(session: Session, tenant: Tenant, data: SettingsUpdate) -> DunningSettings:
    """The fields given (``PATCH /api/v1/dunning-settings`` and the back office): the extension
    limits are not emptied (``null`` leaves them as they are); the agency's address and key are."""
    row = settings_of(session, tenant)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in ("extension_auto_days", "extension_max_days"):
            continue
        setattr(row, field, value)
    session.flush()
    return row


def request(
    session: Session,
    tenant: Tenant,
    invoice_id: int,
    *,
    until: date,
    reason: str | None,
    today: date,
    actor: str = "recipient",
) -> PaymentExtension:
    """The recipient's request; approved at once when it is within the tenant's automatic limit."""
    invoice = invoices.get(session, tenant, invoice_id)
    if invoice.kind != "invoice" or invoice.state not in (states.UNPAID, states.PARTLY_PAID, states.OVERDUE):
        raise Conflict(f"an invoice that is {invoice.state.replace('_', ' ')} cannot be extended", code="invalid_state")
    assert invoice.due_date is not None
    if until <= invoice.due_date or until <= today:
        raise ValidationFailed("the new date must be after the due date and after today", param="until")
    pending = session.scalar(
        select(PaymentExtension.id).where(
            PaymentExtension.tenant_id == tenant.id,
            PaymentExtension.invoice_id == invoice.id,
            PaymentExtension.state == "pending",
        )
    )
    if pending is not None:
        raise Conflict("a request for this invoice is waiting for a decision", code="extension_pending")
    settings = settings_of(session, tenant)
    days = (until - invoice.due_date).days
    if days > settings.extension_max_days:
        raise ValidationFailed(
            f"an extension may be at most {settings.extension_max_days} days after the due date", param="until"
        )
    row = PaymentExtension(
        tenant_id=tenant.id, invoice_id=invoice.id, until=until, reason=reason, state="pending", requested_by=actor
    )
    session.add(row)
    session.flush()
    record(
        session,
        tenant.id,
        [Happening(invoice.id, "extension_requested", actor, {"extension": row.id, "until": until.isoformat()})],
    )
    if days <= settings.extension_auto_days:
        decide(session, tenant, row.id, approve=True, actor="rule", note=f"within {settings.extension_auto_days} days")
    return row


def decide(
    session: Session, tenant: Tenant, extension_id: int, *, approve: bool, actor: str, note: str | None = None
) -> PaymentExtension:
    row = get(session, tenant, extension_id)
    if row.state != "pending":
        raise Conflict(f"this request was already {row.state}", code="invalid_state")
    row.state = "approved" if approve else "rejected"
    row.decided_by = actor[:100]
    row.decided_at = utcnow()
    session.flush()
    kind = "extension_approved" if approve else "extension_rejected"
    record(
        session,
        tenant.id,
        [Happening(row.invoice_id, kind, actor, {"extension": row.id, "until": row.until.isoformat(), "note": note})],
    )
    return row


def get(session: Session, tenant: Tenant, extension_id: int) -> PaymentExtension:
    row = session.scalar(
        select(PaymentExtension).where(PaymentExtension.tenant_id == tenant.id, PaymentExtension.id == extension_id)
    )
    if row is None:
        raise NotFound(f"no payment extension {extension_id}", param="payment_extension")
    return row


def list_page(
    session: Session, tenant: Tenant, *, limit: int, starting_after: int | None, state: str | None = None
) -> Page[PaymentExtension]:
    query = select(PaymentExtension).where(PaymentExtension.tenant_id == tenant.id)
    if state is not None:
        query = query.where(PaymentExtension.state == state)
    return paginate(session, query, PaymentExtension.id, limit=limit, starting_after=starting_after)
