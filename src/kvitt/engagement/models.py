"""Placements (offers, information, surveys), their impressions and clicks, survey answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class Placement(Base):
    __tablename__ = "placements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # offer | info | survey
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    # English text; None: the Swedish one is shown to everyone.
    title_en: Mapped[str | None] = mapped_column(String(200))
    text_en: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))  # an offer's target (https)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    cta: Mapped[str | None] = mapped_column(String(80))  # the call to action's label
    cta_en: Mapped[str | None] = mapped_column(String(80))
    # A survey: {"type": "rating"|"choice"|"text", "choices": [...]} (choices for "choice").
    survey: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    segments: Mapped[list[int]] = mapped_column(JsonType, default=list)  # [] = every customer
    channels: Mapped[list[str]] = mapped_column(JsonType, default=list)  # web, email, pdf, sms
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower first
    cap_per_customer: Mapped[int | None] = mapped_column(Integer)  # impressions; None: no cap
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# What is sent (email, SMS, PDF/letter) makes one impression per invoice, placement and channel:
# a resend, a retried job or a second print of the same invoice counts nothing more.
_SENT = "kind = 'impression' AND channel <> 'web'"


class EngagementEvent(Base):
    """An impression (the placement was shown on an invoice) or a click (its call to action)."""

    __tablename__ = "engagement_events"
    __table_args__ = (
        Index("ix_engagement_events_tenant_placement_at", "tenant_id", "placement_id", "at"),
        Index("ix_engagement_events_tenant_invoice", "tenant_id", "invoice_id"),
        Index(
            "uq_engagement_events_sent",
            "tenant_id",
            "invoice_id",
            "placement_id",
            "channel",
            unique=True,
            sqlite_where=text(_SENT),
            postgresql_where=text(_SENT),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(10))  # impression | click
    placement_id: Mapped[int] = mapped_column(BigInteger)
    invoice_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    segment_id: Mapped[int | None] = mapped_column(BigInteger)  # the first of its segments the customer was in
    channel: Mapped[str] = mapped_column(String(10), default="web")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("tenant_id", "placement_id", "invoice_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    placement_id: Mapped[int] = mapped_column(BigInteger)
    invoice_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    segment_id: Mapped[int | None] = mapped_column(BigInteger)
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5
    choice: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RecipientLink(Base):
    """A magic link to the recipient's own pages (``/m/<token>``), sent to their email or by SMS
    to their phone on file; only the token's SHA-256 is stored. Looked up by the hash alone (no
    tenant is known before it)."""

    __tablename__ = "recipient_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_recipient_links_token_hash", "token_hash"),
        Index("ix_recipient_links_tenant_customer", "tenant_id", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    token_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10), default="email")  # email | sms
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
