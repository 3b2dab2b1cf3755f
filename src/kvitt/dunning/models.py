"""Dunning's tables. Reminders carry the idempotency key of the tick: one row per (invoice, level)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class DunningPolicy(Base):
    """How firmly to remind, for the customers its segment rules pick (lowest priority first)."""

    __tablename__ = "dunning_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    # [{"field": "type", "op": "eq", "value": "company"}, ...]: all must hold; [] matches everyone.
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    # [{"days": 7, "after": "due", "action": "reminder", "channel": null, "fee": null, ...}, ...]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Reminder(Base):
    """One step taken for one invoice: a reminder (a document sent to the customer) or the hand-over."""

    __tablename__ = "dunning_reminders"
    __table_args__ = (
        # Each step of each invoice happens at most once, whatever runs the tick and how often.
        UniqueConstraint("invoice_id", "level"),
        Index("ix_dunning_reminders_tenant_invoice", "tenant_id", "invoice_id"),
        Index("ix_dunning_reminders_charge_invoice", "charge_invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("dunning_policies.id", ondelete="SET NULL"))
    level: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))  # reminder | collection
    number: Mapped[str] = mapped_column(String(40))
    sent_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)  # the new due date the reminder gives
    principal: Mapped[int] = mapped_column(BigInteger)  # what was left of the invoice that day
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_kind: Mapped[str | None] = mapped_column(String(24))  # paminnelseavgift | inkassokrav | forseningsersattning
    interest: Mapped[int] = mapped_column(BigInteger, default=0)
    interest_from: Mapped[date | None] = mapped_column(Date)
    interest_to: Mapped[date | None] = mapped_column(Date)
    interest_rates_bp: Mapped[list[int]] = mapped_column(JsonType, default=list)
    # The debit invoice that carries the fee and the interest (its own receivable and OCR).
    charge_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    channel: Mapped[str | None] = mapped_column(String(10))  # None: the customer's preference
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReferenceRate(Base):
    """Riksbanken's reference rate per calendar half-year (Räntelagen 9 §); the operator keeps it."""

    __tablename__ = "reference_rates"

    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    rate_bp: Mapped[int] = mapped_column(Integer)  # hundredths of a percent
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class DunningPause(Base):
    __tablename__ = "dunning_pauses"
    __table_args__ = (
        Index("ix_dunning_pauses_tenant_invoice", "tenant_id", "invoice_id"),
        Index("ix_dunning_pauses_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    reason: Mapped[str] = mapped_column(String(500))
    until: Mapped[date | None] = mapped_column(Date)  # inclusive; None: until ended
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PaymentExtension(Base):
    """Anstånd: the recipient asks for a later due date; a rule or a person decides."""

    __tablename__ = "payment_extensions"
    __table_args__ = (Index("ix_payment_extensions_tenant_invoice", "tenant_id", "invoice_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    until: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending | approved | rejected
    requested_by: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class InstalmentPlan(Base):
    """Avbetalningsplan: what is left of an invoice split into scheduled parts."""

    __tablename__ = "instalment_plans"
    __table_args__ = (
        Index("ix_instalment_plans_tenant_invoice", "tenant_id", "invoice_id"),
        Index("ix_instalment_plans_charge_invoice", "charge_invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount: Mapped[int] = mapped_column(BigInteger)  # what the plan splits (the invoice's remaining then)
    paid_before: Mapped[int] = mapped_column(BigInteger)  # the invoice's paid + credited when it began
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    charge_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    # [{"due_date": "2026-01-31", "amount": 50000}, ...]
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    state: Mapped[str] = mapped_column(String(10), default="active")  # active | completed | broken | cancelled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_on: Mapped[date | None] = mapped_column(Date)


class DunningSettings(Base):
    """A tenant's dunning settings beside its policies: extensions, the collection agency."""

    __tablename__ = "dunning_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    extension_auto_days: Mapped[int] = mapped_column(Integer, default=14)
    extension_max_days: Mapped[int] = mapped_column(Integer, default=60)
    agency_url: Mapped[str | None] = mapped_column(String(500))
    agency_api_key: Mapped[str | None] = mapped_column(String(200))
    agency_cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # the last agency event read


class CollectionCase(Base):
    """An invoice handed over to the collection agency."""

    __tablename__ = "collection_cases"
    __table_args__ = (UniqueConstraint("invoice_id"), Index("ix_collection_cases_tenant_state", "tenant_id", "state"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    reminder_id: Mapped[int] = mapped_column(ForeignKey("dunning_reminders.id"))
    handed_over_on: Mapped[date] = mapped_column(Date)
    principal: Mapped[int] = mapped_column(BigInteger)
    charges: Mapped[int] = mapped_column(BigInteger)  # open fees and interest handed over with it
    fee_kind: Mapped[str | None] = mapped_column(String(24))
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | open | closed
    external_id: Mapped[str | None] = mapped_column(String(100))
    collected: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_reason: Mapped[str | None] = mapped_column(String(40))
    closed_on: Mapped[date | None] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # the case as handed over
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CollectionEvent(Base):
    """An event the agency reported, applied once (its id is unique per tenant)."""

    __tablename__ = "collection_events"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("collection_cases.id"))
    external_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = [
    "CollectionCase",
    "CollectionEvent",
    "DunningPause",
    "DunningPolicy",
    "DunningSettings",
    "InstalmentPlan",
    "PaymentExtension",
    "ReferenceRate",
    "Reminder",
]


class NextStep(Base):
    """The first day a dunning step can be due for an invoice the tick looked at (tick.py), or
    9999-12-31 when no step is left. A narrow table of its own: writing a date is a small row,
    not a new version of the wide invoice row with every index of ``invoices``."""

    __tablename__ = "dunning_next_steps"
    __table_args__ = (Index("ix_dunning_next_steps_tenant_next_on", "tenant_id", "next_on"),)

    # No foreign key to invoices (migration 0024): the tick writes the dates from the rows of its
    # own finding query, and a check of each row cost a fifth of that statement.
    invoice_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    next_on: Mapped[date] = mapped_column(Date)


class TickMark(Base):
    """What the tenant's dunning configuration looked like when its tick last wrote the
    ``dunning_next_steps`` (tick.py): while it still looks the same, those dates hold."""

    __tablename__ = "dunning_tick_marks"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
