"""The issuer (tenant) and its API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str] = mapped_column(String(11), unique=True)
    vat_number: Mapped[str | None] = mapped_column(String(14))
    f_skatt: Mapped[bool] = mapped_column(Boolean, default=True)
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="SE")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    bankgiro: Mapped[str | None] = mapped_column(String(9))
    plusgiro: Mapped[str | None] = mapped_column(String(10))
    swish_number: Mapped[str | None] = mapped_column(String(12))
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    invoice_fee: Mapped[int] = mapped_column(BigInteger, default=0)  # öre, excluding VAT
    reminder_fee: Mapped[int] = mapped_column(BigInteger, default=0)  # öre; dunning uses it later
    reminder_fee_agreed: Mapped[bool] = mapped_column(Boolean, default=False)
    late_interest: Mapped[bool] = mapped_column(Boolean, default=False)
    # Percentage points over Riksbanken's reference rate, in hundredths (800 = 8 pp, Räntelagen 6 §).
    late_interest_margin_bp: Mapped[int] = mapped_column(Integer, default=800)
    round_to_krona: Mapped[bool] = mapped_column(Boolean, default=True)
    ocr_length: Mapped[int | None] = mapped_column(Integer)  # None: variable length
    default_delivery: Mapped[str] = mapped_column(String(10), default="email")
    locale: Mapped[str] = mapped_column(String(5), default="sv")
    currency: Mapped[str] = mapped_column(String(3), default="SEK")
    # The tenant's own chart of accounts where it differs from Kvitt's BAS defaults.
    accounts: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Branding (``tenants.branding``): the colour of headers and buttons (#rrggbb, white text on
    # it passes WCAG AA), and the SHA-256 of the logo in ``tenant_logos``. Both are on this row
    # so that everything that digests the tenant (the web invoice's ETag) sees a change.
    brand_color: Mapped[str | None] = mapped_column(String(7))
    logo_sha256: Mapped[str | None] = mapped_column(String(64))


class TenantLogo(Base):
    """The logo's bytes, apart from the tenant row, so that reading a tenant never loads them."""

    __tablename__ = "tenant_logos"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(20))  # image/png or image/jpeg, read from the bytes
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so that staff can tell keys apart without seeing them.
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


__all__ = ["ApiKey", "Tenant", "TenantLogo"]
