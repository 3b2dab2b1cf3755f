"""Subscriptions: a customer's recurring lines, their price versions, pauses and period data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class Subscription(Base):
    __tablename__ = "subscriptions"
    # The billing run's query: a tenant's subscriptions due on a day, in id order.
    __table_args__ = (Index("ix_subscriptions_due", "tenant_id", "next_period_start", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    interval: Mapped[str] = mapped_column(String(10))  # month | quarter | year
    # Periods are cut at anchor + k intervals (the anchor's day of the month, clamped).
    anchor_date: Mapped[date] = mapped_column(Date)
    start_date: Mapped[date] = mapped_column(Date)
    # The first day without service (exclusive); None: until cancelled.
    end_date: Mapped[date | None] = mapped_column(Date)
    # Bindningstid: the subscription cannot end before this day.
    binding_until: Mapped[date | None] = mapped_column(Date)
    # The first day not yet billed; None once the last period is billed.
    next_period_start: Mapped[date | None] = mapped_column(Date)
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(String(4000))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    canceled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SubscriptionLine(Base):
    """One price version of one recurring line, valid on ``[valid_from, valid_to)``.

    A price or quantity change from a date ends the current version the day before and starts a
    new one, so a period's invoice charges each version for its own days.
    """

    __tablename__ = "subscription_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    description: Mapped[str] = mapped_column(String(500))
    quantity_milli: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str | None] = mapped_column(String(20))
    unit_price: Mapped[int] = mapped_column(BigInteger)  # öre, excluding VAT
    vat_rate: Mapped[int] = mapped_column(Integer)
    account: Mapped[str | None] = mapped_column(String(4))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class SubscriptionPause(Base):
    """No charge on ``[start, end)``; ``end`` None: paused until resumed."""

    __tablename__ = "subscription_pauses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)


class PeriodInfo(Base):
    """Info blocks the issuer sends for one period (consumption, data used ...), put on its invoice."""

    __tablename__ = "subscription_period_info"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    period_start: Mapped[date] = mapped_column(Date)
    blocks: Mapped[list[dict[str, str]]] = mapped_column(JsonType, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = ["PeriodInfo", "Subscription", "SubscriptionLine", "SubscriptionPause"]
