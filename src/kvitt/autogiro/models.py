"""Autogiro's tables: the tenant's settings, mandates, debits (payment orders) and the files."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow

# A mandate's states: pending (to be sent) -> sent -> active | rejected -> cancelled.
MANDATE_STATES = ("pending", "sent", "active", "rejected", "cancelled")
# The payer number must be unique among the mandates that still count.
_LIVE = "status IN ('pending', 'sent', 'active')"


class AutogiroSettings(Base):
    """The tenant's autogiro agreement with Bankgirot."""

    __tablename__ = "autogiro_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    bgc_customer_number: Mapped[str | None] = mapped_column(String(6))
    # How many banking days before the due date a debit is ordered (Bankgirot needs it at least 1).
    banking_days_before: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Mandate(Base):
    """A payer's consent that the tenant debits one account by autogiro."""

    __tablename__ = "autogiro_mandates"
    __table_args__ = (
        Index(
            "ux_autogiro_mandates_live_payer",
            "tenant_id",
            "payer_number",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
        Index("ix_autogiro_mandates_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    payer_number: Mapped[str] = mapped_column(String(16))
    clearing: Mapped[str] = mapped_column(String(4))
    account: Mapped[str] = mapped_column(String(12))  # without the clearing number
    personal_number: Mapped[str | None] = mapped_column(String(12))  # or organisation number, 12 digits
    status: Mapped[str] = mapped_column(String(10), default="pending")
    source: Mapped[str] = mapped_column(String(10), default="api")  # api | bankid
    # BankID's signature, OCSP response and completion data for a mandate signed digitally.
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # The order the next mandate file carries: "new" (TK04), "cancel" (TK03), "change" (TK05) or None.
    outgoing: Mapped[str | None] = mapped_column(String(10), default="new")
    # A change of payer number asked for (TK05), until Bankgirot's advice confirms or refuses it.
    new_payer_number: Mapped[str | None] = mapped_column(String(16))
    comment_code: Mapped[str | None] = mapped_column(String(2))
    comment_text: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Debit(Base):
    """One invoice to be debited by autogiro: pending -> sent -> debited | failed (| cancelled);
    a debited one the payer's bank paid back (TK77) is ``refunded``."""

    __tablename__ = "autogiro_debits"
    __table_args__ = (
        UniqueConstraint("tenant_id", "invoice_id"),
        Index("ix_autogiro_debits_tenant_status_order", "tenant_id", "status", "order_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    mandate_id: Mapped[int] = mapped_column(ForeignKey("autogiro_mandates.id"))
    payer_number: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)  # öre
    reference: Mapped[str] = mapped_column(String(16))
    debit_on: Mapped[date] = mapped_column(Date)  # the banking day the money is taken
    order_on: Mapped[date] = mapped_column(Date)  # the first day the order goes into a file
    status: Mapped[str] = mapped_column(String(10), default="pending")
    result_code: Mapped[str | None] = mapped_column(String(2))
    result_text: Mapped[str | None] = mapped_column(String(120))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Credit(Base):
    """Money paid out to a payer by autogiro (TK32, "utbetalning"): pending -> sent -> paid | failed
    (| cancelled). It pays back what the tenant holds for the customer (their credit balance)."""

    __tablename__ = "autogiro_credits"
    __table_args__ = (Index("ix_autogiro_credits_tenant_status", "tenant_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    mandate_id: Mapped[int] = mapped_column(ForeignKey("autogiro_mandates.id"))
    payer_number: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)  # öre
    reference: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    pay_on: Mapped[date | None] = mapped_column(Date)  # the banking day the order names (set when sent)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    result_code: Mapped[str | None] = mapped_column(String(2))
    result_text: Mapped[str | None] = mapped_column(String(120))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AutogiroFile(Base):
    """A file exchanged with Bankgirot: written (to) or read (from); a file is read once."""

    __tablename__ = "autogiro_files"
    __table_args__ = (UniqueConstraint("tenant_id", "direction", "sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    direction: Mapped[str] = mapped_column(String(4))  # to | from
    kind: Mapped[str] = mapped_column(String(20))  # orders | mandate_advice | payment_spec | rejected | bgmax
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
