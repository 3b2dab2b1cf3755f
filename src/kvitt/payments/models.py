"""Money received: payment files, payments, their allocations, and the deviations queue."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class PaymentFile(Base):
    """An imported bank file; its content hash makes a second import of it a no-op."""

    __tablename__ = "payment_files"
    __table_args__ = (UniqueConstraint("tenant_id", "content_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    format: Mapped[str] = mapped_column(String(10))  # bgmax
    filename: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by_bank: Mapped[datetime | None] = mapped_column(UtcDateTime)
    test_file: Mapped[bool] = mapped_column(default=False)
    deposits: Mapped[int] = mapped_column(Integer, default=0)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)  # payments already imported (same serial)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # öre, net of deductions
    matched: Mapped[int] = mapped_column(Integer, default=0)
    deviations: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(10), default="api")  # api | cli | inbox
    # imported | rejected (a file from the inbox that failed its checks: kept so it is not retried)
    state: Mapped[str] = mapped_column(String(10), default="imported")
    error: Mapped[str | None] = mapped_column(String(1000))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Payment(Base):
    """Money in (amount > 0) or a deduction the payer made (amount < 0)."""

    __tablename__ = "payments"
    __table_args__ = (
        # The bank's identity of a payment (date, Bankgirot serial, amount, reference): the same
        # payment reported twice is one payment. The serial alone is not enough: Bankgirot's own
        # sample file has two different payments with serial 000000000016.
        UniqueConstraint("tenant_id", "bank_key"),
        Index("ix_payments_tenant_date", "tenant_id", "date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    source: Mapped[str] = mapped_column(String(10))  # bankgiro | manual | api
    file_id: Mapped[int | None] = mapped_column(ForeignKey("payment_files.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(100))
    reference_code: Mapped[int | None] = mapped_column(Integer)
    payer_name: Mapped[str | None] = mapped_column(String(200))
    payer_account: Mapped[str | None] = mapped_column(String(40))
    bank_serial: Mapped[str | None] = mapped_column(String(40))
    bank_key: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # What is not yet allocated to an invoice, a customer's credit balance or a refund.
    unallocated: Mapped[int] = mapped_column(BigInteger, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Allocation(Base):
    """Where (part of) a payment went: an invoice, a customer's credit balance, or back out."""

    __tablename__ = "payment_allocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    # invoice | credit_balance | refund | credit_applied | released (taken back from an invoice by a credit)
    kind: Mapped[str] = mapped_column(String(15))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Deviation(Base):
    """A payment a person must look at, with ranked suggestions."""

    __tablename__ = "payment_deviations"
    __table_args__ = (Index("ix_payment_deviations_tenant_state", "tenant_id", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    # unknown_reference | no_reference | already_settled | overpayment | deduction | refund_due
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10), default="open")  # open | resolved
    amount: Mapped[int] = mapped_column(BigInteger)  # what is in question
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
