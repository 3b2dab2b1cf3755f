"""Who is asking: the staff session behind every ``/admin`` page, and the role it needs.

``require_staff(*roles)`` is the FastAPI dependency every admin route takes::

    @router.get("/admin/kunder")
    def customers(staff: StaffMember = Depends(require_staff("support", "finance"))) -> Response: ...

Without a valid session (none, forged, idle longer than ``sessions.IDLE_SECONDS``, ended by a
logout or a new password) a page answers with a redirect to ``/admin/login``; with a role not
named it answers 403. ``admin`` may do everything; no roles named means any staff member.
A user who still has a one-time password is sent to ``/admin/password`` first. Every POST is
refused (403) without the session's CSRF token (``csrf`` form field or ``X-CSRF-Token`` header)
or with a cross-site ``Origin``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from fastapi import Request
from sqlalchemy import select

from kvitt.admin import sessions
from kvitt.admin.models import StaffUser
from kvitt.core.db import Database
from kvitt.tenants.models import Tenant

ALL_ROLES = ("admin", "finance", "support", "marketing", "read_only")
# Roles that may act (not only read) on customers, invoices and payments.
SUPPORT_ACTORS = ("admin", "finance", "support")
FINANCE_ACTORS = ("admin", "finance")


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PasswordChangeRequired(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, staff: StaffMember | None, reason: str = "role") -> None:
        self.staff = staff
        self.reason = reason


@dataclass(frozen=True)
class StaffMember:
    """The logged-in staff member as the pages need them; ``tenant`` is their tenant's row."""

    id: int
    tenant_id: int
    email: str
    name: str
    role: str
    language: str
    must_change_password: bool
    tenant: Tenant
    csrf: str
    session_key: str = field(repr=False)
    # The refreshed cookie to send with the answer (``last seen`` moved), or None.
    cookie: str | None = field(default=None, repr=False)

    def can(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def now_seconds() -> int:
    return int(time.time())


def load_staff(request: Request) -> StaffMember | None:
    """The session's staff member, or None (no cookie, bad signature, expired, inactive)."""
    value = request.cookies.get(sessions.COOKIE, "")
    parsed = sessions.parse(value) if value else None
    if parsed is None:
        return None
    database: Database = request.app.state.db
    with database.read() as session:
        row = session.execute(
            select(StaffUser, Tenant)
            .join(Tenant, Tenant.id == StaffUser.tenant_id)
            .where(StaffUser.id == parsed.staff_id, StaffUser.active.is_(True))
        ).first()
    if row is None:
        return None
    user, tenant = row
    now = now_seconds()
    verified = sessions.verify(value, user.session_key, now)
    if verified is None:
        return None
    cookie = None
    if now - verified.seen >= sessions.REFRESH_SECONDS:
        cookie = sessions.encode(
            sessions.SessionCookie(user.id, verified.nonce, verified.started, now), user.session_key
        )
    return StaffMember(
        id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        name=user.name,
        role=user.role,
        language=user.language,
        must_change_password=user.must_change_password,
        tenant=tenant,
        csrf=sessions.csrf_token(user.session_key, verified.nonce),
        session_key=user.session_key,
        cookie=cookie,
    )


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return True  # a form post from a browser that sends none; the CSRF token still decides
    return urlsplit(origin).netloc == request.headers.get("host")


def require_staff(*roles: str) -> Callable[[Request], StaffMember]:
    """The dependency: the staff member, when logged in with one of ``roles`` (or admin)."""
    for role in roles:
        if role not in ALL_ROLES:
            raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> StaffMember:
        staff = load_staff(request)
        path = request.url.path
        if staff is None:
            query = f"?{request.url.query}" if request.url.query else ""
            raise LoginRequired(quote(path + query, safe="/"))
        if staff.must_change_password and path != "/admin/password":
            raise PasswordChangeRequired()
        if roles and not staff.can(*roles):
            raise Forbidden(staff)
        request.state.staff = staff
        return staff

    dependency.roles = roles  # type: ignore[attr-defined]  # read by the tests that check every route
    return dependency


def check_csrf(request: Request, staff: StaffMember, token: str) -> None:
    """Raises Forbidden unless the token is this session's and the request is same-origin."""
    token = token or request.headers.get("x-csrf-token", "")
    if not same_origin(request) or not sessions.csrf_ok(staff.session_key, _nonce(request), token):
        raise Forbidden(staff, reason="csrf")


def _nonce(request: Request) -> str:
    parsed = sessions.parse(request.cookies.get(sessions.COOKIE, ""))
    return parsed.nonce if parsed else ""
