"""BankID's one table: the sign orders the web invoice starts (an autogiro mandate signed by the payer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow

# pending -> complete | failed | cancelled
ORDER_STATES = ("pending", "complete", "failed", "cancelled")


class SignOrder(Base):
    """A BankID sign order for one invoice's payer: what they sign, where BankID is with it, and
    the mandate made when it completes. The QR secret is kept while the order is pending (every
    process must draw the same animated QR code) and cleared when it ends."""

    __tablename__ = "bankid_sign_orders"
    __table_args__ = (
        Index("ix_bankid_sign_orders_tenant_invoice", "tenant_id", "invoice_id"),
        UniqueConstraint("tenant_id", "order_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(BigId, ForeignKey("invoices.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_ref: Mapped[str] = mapped_column(String(64))
    clearing: Mapped[str] = mapped_column(String(5))
    account: Mapped[str] = mapped_column(String(12))
    # The text the payer reads in the BankID app (and signs), and the data signed with it.
    visible_text: Mapped[str] = mapped_column(Text)
    signed_data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    auto_start_token: Mapped[str] = mapped_column(String(64))
    qr_start_token: Mapped[str] = mapped_column(String(64))
    qr_start_secret: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    hint_code: Mapped[str | None] = mapped_column(String(40))
    # Why an order that BankID completed made no mandate (e.g. mandate_exists).
    error: Mapped[str | None] = mapped_column(String(200))
    mandate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("autogiro_mandates.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_collect_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


__all__ = ["SignOrder"]
