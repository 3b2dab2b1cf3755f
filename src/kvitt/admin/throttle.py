"""Failed logins counted in the database, so that every ``kvitt serve`` process (``--workers N``,
several machines) sees the same count: more processes do not buy an attacker more attempts.

Two counts, each a row of ``login_throttle`` under a SHA-256 key (no e-mail address or client
address is stored as such, and no tenant: the login form names none):

- per client address: ``ADDRESS_LIMIT`` failures in ``WINDOW_SECONDS``, whatever the e-mail
  addresses tried (guessing many accounts from one place);
- per e-mail address from that client address: ``ACCOUNT_LIMIT`` failures in the window.

A window starts at the first failure and lasts ``WINDOW_SECONDS``; a failure after it has ended
starts a new one (the count forgets). While a count is at its limit, a login from there is not
tried at all (429 with ``Retry-After``). A successful login clears the e-mail address's count
from that client address; the client address's count is kept (a right password for one account
must not buy more guesses at others). The second step (a TOTP code, ``admin.totp``) counts under
the same keys: a wrong code is a failure, a refused one is not tried, and only the right code
clears the account's count (a right password alone does not, for a user with a second factor: it
would hand out ten more code guesses each time). Besides these, an account locks after
``users.MAX_FAILURES`` wrong passwords in a row from anywhere (``users.authenticate``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kvitt.admin.models import LoginThrottle
from kvitt.core.db import UtcDateTime, is_postgresql

ADDRESS_LIMIT = 20
ACCOUNT_LIMIT = 10
WINDOW_SECONDS = 15 * 60
TOO_MANY = "För många misslyckade inloggningar härifrån. Vänta upp till 15 minuter och försök igen."


@dataclass(frozen=True)
class Keys:
    address: str  # the client address
    account: str  # the e-mail address from the client address


def keys_for(email: str, address: str) -> Keys:
    def digest(*parts: str) -> str:
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    return Keys(address=digest("address", address), account=digest("login", email.strip().lower(), address))


def wait_seconds(session: Session, keys: Keys, now: datetime) -> int | None:
    """Seconds until a login from there may be tried again, or None when it may be now."""
    start = now - timedelta(seconds=WINDOW_SECONDS)
    rows = session.scalars(
        select(LoginThrottle).where(
            LoginThrottle.key.in_((keys.address, keys.account)), LoginThrottle.window_start > start
        )
    )
    wait = None
    for row in rows:
        limit = ADDRESS_LIMIT if row.key == keys.address else ACCOUNT_LIMIT
        if row.failures >= limit:
            left = int((row.window_start - start).total_seconds()) + 1
            wait = max(wait or 0, left)
    return wait


def failed(session: Session, keys: Keys, now: datetime) -> None:
    """Count one failure under both keys (one statement each, atomic against other processes)."""
    start = now - timedelta(seconds=WINDOW_SECONDS)
    session.execute(delete(LoginThrottle).where(LoginThrottle.window_start <= start))  # ended windows
    insert: Any = postgresql.insert if is_postgresql(session) else sqlite.insert
    ended = LoginThrottle.window_start <= start
    for key in (keys.address, keys.account):
        statement = insert(LoginThrottle).values(key=key, failures=1, window_start=now)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case((ended, 1), else_=LoginThrottle.failures + 1),
                    "window_start": case((ended, literal(now, UtcDateTime())), else_=LoginThrottle.window_start),
                },
            )
        )


def succeeded(session: Session, keys: Keys) -> None:
    """A right password: the e-mail address's count from this client address starts again."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys.account))
