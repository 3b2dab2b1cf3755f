"""Delivery attempts and each tenant's delivery settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow

# The states of one attempt on one channel.
PENDING = "pending"  # waiting for its job (or, for a letter, for the next print batch)
SENDING = "sending"  # an SMS handed to the provider, the outcome not yet recorded (at most once)
SENT = "sent"  # the provider / print partner / access point accepted it
DELIVERED = "delivered"  # the provider reported it delivered
FAILED = "failed"  # permanently failed: the next channel of the fallback chain takes over
UNKNOWN = "unknown"  # a worker stopped mid-send of an SMS; not repeated, a person may resend
FINAL_STATES = (DELIVERED, FAILED, UNKNOWN)


class Delivery(Base):
    """One attempt to deliver an invoice (or one of its reminders) on one channel.

    ``document`` is ``invoice`` or ``reminder:<id>``. ``chain`` numbers the deliveries of a
    document: 0 is the automatic one (on issue, or when dunning sends a reminder), each explicit
    resend opens the next. The unique key (tenant, invoice, document, chain, channel) lets a
    chain use each channel once: a repeated event or job cannot send twice, a fallback cannot
    loop, and an explicit resend, which opens a new chain, still can.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "invoice_id", "document", "chain", "channel"),
        Index("ix_deliveries_state_channel", "state", "channel"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    document: Mapped[str] = mapped_column(String(40), default="invoice")
    reminder_id: Mapped[int | None] = mapped_column(BigInteger)
    chain: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | letter | einvoice
    # The channel the chain started with (its fallback list is the one followed).
    first_channel: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(20))  # issue | reminder | resend | fallback
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    recipient: Mapped[str | None] = mapped_column(String(254))
    # The provider's id: the email's Message-ID, the 46elks SMS id, the access point's id.
    provider_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    # The unguessable part of the SMS delivery-report URL (46elks cannot send an API key).
    callback_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    batch: Mapped[str | None] = mapped_column(String(60))  # the print batch of a letter
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100), default="system")
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeliverySettings(Base):
    """A tenant's delivery choices; a tenant without a row has the defaults."""

    __tablename__ = "delivery_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    # channel → the channels to try, in order, when it fails ({"email": ["letter"], ...}).
    fallback: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    attach_pdf: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


__all__ = ["Delivery", "DeliverySettings"]
