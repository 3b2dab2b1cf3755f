"""The back office's own tables: staff users and the audit log of what they did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow

ROLES = ("admin", "finance", "support", "marketing", "read_only")


class StaffUser(Base):
    """A person of the issuer who logs in to ``/admin``. The e-mail address is the login name,
    unique across the installation (the login form names no tenant)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    # A one-time password (printed by `kvitt users create`) must be changed at first login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Signs this user's session cookies and CSRF tokens; a new one ends every session at once
    # (logout, a new password, deactivation).
    session_key: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(2), default="sv")
    # Login throttling: failures in a row, and the moment before which no login is tried.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The optional second factor: a TOTP secret (RFC 6238, base32), and the last time step a code
    # was accepted for, so that one code works once.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """One staff action: who, what, on what, when, and the state before and after."""

    __tablename__ = "staff_audit_log"
    __table_args__ = (Index("ix_staff_audit_log_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff_users.id"))
    staff_email: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(100), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LoginThrottle(Base):
    """Failed logins counted for every process of the installation (``kvitt.admin.throttle``):
    one row per key, a SHA-256 of the client address or of the e-mail address and the client
    address (no tenant: the login form names none), with the failures since ``window_start``."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


__all__ = ["ROLES", "AuditEntry", "LoginThrottle", "StaffUser"]
