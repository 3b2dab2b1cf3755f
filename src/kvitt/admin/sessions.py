"""The staff session cookie and CSRF tokens, signed with the user's own ``session_key``.

The cookie is ``<staff id>.<nonce>.<started>.<last seen>.<signature>`` (times in Unix seconds),
HMAC-SHA256 over the rest with the user's random ``session_key``: no server-wide secret to
configure, valid in every ``serve`` process, and a new key (logout, a new password,
deactivation) ends every session of that user at once. A session ends after ``IDLE_SECONDS``
without a request, and after ``MAX_SECONDS`` whatever happens. The CSRF token of every form is
an HMAC of the session's nonce, so it is valid for that session only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "kvitt_admin"
IDLE_SECONDS = 30 * 60
MAX_SECONDS = 12 * 60 * 60
# The cookie is written again (its ``last seen`` moved) at most once a minute.
REFRESH_SECONDS = 60


@dataclass(frozen=True)
class SessionCookie:
    staff_id: int
    nonce: str
    started: int
    seen: int


def new_session_key() -> str:
    return secrets.token_hex(32)


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode(session: SessionCookie, key: str) -> str:
    payload = f"{session.staff_id}.{session.nonce}.{session.started}.{session.seen}"
    return f"{payload}.{_sign(key, payload)}"


def parse(value: str) -> SessionCookie | None:
    """The cookie's parts, not yet verified (the key is the user's: read the user first)."""
    parts = value.split(".")
    if len(parts) != 5 or not all(p.isdigit() for p in (parts[0], parts[2], parts[3])) or len(parts[0]) > 18:
        return None
    return SessionCookie(int(parts[0]), parts[1], int(parts[2]), int(parts[3]))


def verify(value: str, key: str, now: int) -> SessionCookie | None:
    """The session when the signature is right and it has not expired, else None."""
    session = parse(value)
    if session is None:
        return None
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(_sign(key, payload), signature):
        return None
    if now - session.seen > IDLE_SECONDS or now - session.started > MAX_SECONDS or session.seen > now + 60:
        return None
    return session


def start(staff_id: int, now: int) -> SessionCookie:
    return SessionCookie(staff_id, secrets.token_hex(16), now, now)


def csrf_token(key: str, nonce: str) -> str:
    return _sign(key, f"csrf.{nonce}")


def csrf_ok(key: str, nonce: str, token: str) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(key, nonce), token)
