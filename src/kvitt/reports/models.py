"""The KPI aggregates: daily facts per tenant, receivable flows, and the days waiting for a refresh.

Nothing here is a source of truth. Every row is recomputed from the invoices, deliveries,
payments, reminders and the ledger for one (tenant, day) at a time (``reports.facts``), so a
row can be thrown away and rebuilt at any moment; the KPIs read these few rows instead of the
invoices.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base
from kvitt.invoices.models import Invoice


class DailyFact(Base):
    """One measure of one tenant's day, optionally split by a dimension (a channel, a method).

    ``measure`` names what is counted (``docs/reports.md`` lists them with the day each is
    keyed on); ``count`` and ``amount`` are its sums that day (``amount`` in öre, or in days for
    ``paid_timing``).
    """

    __tablename__ = "report_daily_facts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(30), primary_key=True)
    dim: Mapped[str] = mapped_column(String(30), primary_key=True, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


class ReceivableFlow(Base):
    """The change of the receivables (BAS 1510, invoices only) booked on ``day``, by due date.

    The sum of the flows up to D is what was open on D (the aging report's total); split by due
    date it gives the overdue amount and the aging buckets as of any date.
    """

    __tablename__ = "report_receivable_flows"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    due_date: Mapped[date] = mapped_column(Date, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


class DirtyDay(Base):
    """A day whose facts and flows must be recomputed (something that day was changed)."""

    __tablename__ = "report_dirty_days"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


# A day's facts are recomputed from the invoices of that invoice date (migration 0016).
Index("ix_invoices_tenant_invoice_date", Invoice.tenant_id, Invoice.invoice_date)
