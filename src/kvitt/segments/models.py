"""A tenant's segments: named rules over its customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(100))
    match: Mapped[str] = mapped_column(String(3), default="all")  # all | any
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    # Kept current: counted when the segment is saved and by the daily job (segments.count).
    customer_count: Mapped[int] = mapped_column(BigInteger, default=0)
    counted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class CustomerBehaviour(Base):
    """A customer's behaviour facts as of ``computed_on`` (``segments.behaviour_table``): what
    the segment rules on behaviour read instead of grouping the tenant's invoices at every count.
    Derived data: rebuilt for the whole tenant by the daily job and ``kvitt segments
    rebuild-behaviour``, and for the customers a batch of ``invoice.`` events touched by the
    subscriber. No foreign key to ``customers``: a row outliving its customer matches nobody
    (rules are evaluated as conditions on ``customers``)."""

    __tablename__ = "customer_behaviour"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    open_balance: Mapped[int] = mapped_column(BigInteger, default=0)  # öre
    last_invoice_total: Mapped[int | None] = mapped_column(BigInteger)  # öre; None: no issued invoice
    # Bit i set: the (i + 1)-th newest issued invoice (by id) was late; the 24 newest only.
    late_mask: Mapped[int] = mapped_column(BigInteger, default=0)
    # avg_days_late = late_days_sum / late_days_count (missing when the count is 0): kept as two
    # integers so that a rule compares it exactly (sum op value * count), never as a rounded mean.
    late_days_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    late_days_count: Mapped[int] = mapped_column(BigInteger, default=0)
    reminders_last_year: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_method: Mapped[str | None] = mapped_column(String(20))
    # The business day the facts were computed as they are (a rebuild that finds them unchanged
    # leaves the row alone); for which day the whole table answers is BehaviourBuild.built_on.
    computed_on: Mapped[date] = mapped_column(Date)


class BehaviourBuild(Base):
    """The business day the tenant's whole ``customer_behaviour`` was last computed for: the
    table answers for that day only (the facts late, average days late and reminders in the
    last year move with the date); on another day the rules group the invoices as before."""

    __tablename__ = "customer_behaviour_builds"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    built_on: Mapped[date] = mapped_column(Date)
    built_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
