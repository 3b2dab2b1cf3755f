"""The double-entry journal (reskontra): appended, never edited; corrections are reversals."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, UtcDateTime, utcnow


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_entries_tenant_date", "tenant_id", "date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(30))  # invoice, credit_note, payment, write_off, ...
    text: Mapped[str] = mapped_column(String(200))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JournalLine(Base):
    """One posting: debit positive, credit negative, in öre."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        Index("ix_journal_lines_tenant_account_customer", "tenant_id", "account", "customer_id"),
        Index("ix_journal_lines_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(4))
    amount: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # The invoice whose receivable this posting moves (a credit note's posting names the invoice it credits).
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
