"""A tenant's rules, stored as data, and every firing of one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class AutomationRule(Base):
    __tablename__ = "automation_rules"
    __table_args__ = (
        Index("ix_automation_rules_tenant_trigger", "tenant_id", "trigger"),
        # A template is installed at most once per tenant (NULL for rules written by hand).
        UniqueConstraint("tenant_id", "template"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    trigger: Mapped[str] = mapped_column(String(60))  # a published event type (webhooks.catalogue)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    wait_minutes: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    template: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AutomationFiring(Base):
    """A rule met an event whose conditions held: waiting, done, skipped (no longer held) or failed."""

    __tablename__ = "automation_firings"
    # A rule fires at most once per event, however often the event's job runs.
    __table_args__ = (
        UniqueConstraint("rule_id", "event_key"),
        Index("ix_automation_firings_tenant_rule", "tenant_id", "rule_id", "id"),
        Index("ix_automation_firings_rule_invoice", "rule_id", "invoice_id", "created_at"),
        Index("ix_automation_firings_waiting", "tenant_id", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id"))
    event_key: Mapped[str] = mapped_column(String(120))
    event_type: Mapped[str] = mapped_column(String(60))
    event: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    invoice_id: Mapped[int | None] = mapped_column(BigId)
    customer_id: Mapped[int | None] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(10), default="waiting")
    run_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The business date the wait ends on: a test clock moving a test tenant's days runs it then.
    due_on: Mapped[date | None] = mapped_column(Date)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
