"""Payment requests to a provider (Swish, a card PSP) and their refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow

CREATED, PAID, DECLINED, ERROR, CANCELLED, EXPIRED = "created", "paid", "declined", "error", "cancelled", "expired"
STATES = (CREATED, PAID, DECLINED, ERROR, CANCELLED, EXPIRED)
FINAL = (PAID, DECLINED, ERROR, CANCELLED, EXPIRED)


class PaymentRequest(Base):
    """One attempt to have an invoice paid through a provider; paid, it points at its payment."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        # A provider's callback names only its own id (Swish: the instruction UUID Kvitt chose;
        # Stripe: the PaymentIntent's pi_ id), so that id finds the request without a tenant.
        UniqueConstraint("method", "provider_reference"),
        Index("ix_payment_requests_tenant_invoice", "tenant_id", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    method: Mapped[str] = mapped_column(String(10))  # swish | card
    flow: Mapped[str] = mapped_column(String(12))  # ecommerce (payer's phone) | mcommerce (token/QR) | card
    state: Mapped[str] = mapped_column(String(10), default=CREATED)
    amount: Mapped[int] = mapped_column(BigInteger)  # öre: the invoice's remaining amount when asked
    currency: Mapped[str] = mapped_column(String(3), default="SEK")
    payer_alias: Mapped[str | None] = mapped_column(String(15))
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    # What the payer's device needs: Swish's PaymentRequestToken, Stripe's client_secret.
    provider_token: Mapped[str | None] = mapped_column(String(255))
    provider_status: Mapped[str | None] = mapped_column(String(40))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(300))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    paid_amount: Mapped[int | None] = mapped_column(BigInteger)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Refund(Base):
    """Money paid back through the provider that took it."""

    __tablename__ = "payment_refunds"
    __table_args__ = (UniqueConstraint("method", "provider_reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10), default=CREATED)  # created | paid | error
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(100))
    booked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
