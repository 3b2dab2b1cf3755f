"""Invoices and credit notes, their lines, their timeline and the number series."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class NumberSeries(Base):
    """A tenant's gap-free series; the row lock taken by its UPDATE orders concurrent issues."""

    __tablename__ = "number_series"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "ocr"),
        Index("ix_invoices_tenant_state_due", "tenant_id", "state", "due_date"),
        Index("ix_invoices_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(12), default="invoice")  # invoice | credit_note
    state: Mapped[str] = mapped_column(String(15), default="draft")
    number: Mapped[int | None] = mapped_column(BigInteger)
    ocr: Mapped[str | None] = mapped_column(String(25))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="SEK")
    invoice_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    # Totals in öre. total = net + vat + rounding; remaining agrees with the ledger's 1510.
    net: Mapped[int] = mapped_column(BigInteger, default=0)
    vat: Mapped[int] = mapped_column(BigInteger, default=0)
    rounding: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    credited: Mapped[int] = mapped_column(BigInteger, default=0)
    written_off: Mapped[int] = mapped_column(BigInteger, default=0)
    remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_summary: Mapped[list[dict[str, int]]] = mapped_column(JsonType, default=list)
    with_invoice_fee: Mapped[bool] = mapped_column(default=False)
    credited_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    # The buyer as the invoice was issued (the law asks for the name and address at that time).
    buyer: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    info: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.position", cascade="all, delete-orphan", lazy="selectin"
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10), default="item")  # item | fee
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    article_no: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(500))
    quantity_milli: Mapped[int] = mapped_column(BigInteger)  # thousandths
    unit: Mapped[str | None] = mapped_column(String(20))
    unit_price: Mapped[int] = mapped_column(BigInteger)  # öre, excluding VAT
    discount_bp: Mapped[int] = mapped_column(Integer, default=0)  # hundredths of a percent
    vat_rate: Mapped[int] = mapped_column(Integer)
    account: Mapped[str | None] = mapped_column(String(4))
    net: Mapped[int] = mapped_column(BigInteger)


class InvoiceEvent(Base):
    """The invoice's timeline: appended, never changed."""

    __tablename__ = "invoice_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
