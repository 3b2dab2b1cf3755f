"""The issuer's articles: what an invoice line can be made from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, UtcDateTime, utcnow


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("tenant_id", "article_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    article_no: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20), default="st")
    unit_price: Mapped[int] = mapped_column(BigInteger)  # öre, excluding VAT
    vat_rate: Mapped[int] = mapped_column(Integer)
    account: Mapped[str | None] = mapped_column(String(4))  # BAS revenue account; None: by VAT rate
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
