"""The login throttle is counted in the database: two app instances on one database (as two
``kvitt serve`` processes) share the count, a success clears it, and an ended window forgets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.admin import throttle
from kvitt.admin.models import LoginThrottle
from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from tests.admin.conftest import PASSWORD, make_staff


@pytest.fixture
def two_processes(app: Any, settings: Settings, database_url: str, db: Database) -> Iterator[list[TestClient]]:
    """Two apps, each with its own engine on the one database: nothing shared but the database."""
    other_db = Database(database_url)
    other = create_app(settings, other_db, embedded_worker=False)
    yield [TestClient(app, follow_redirects=False), TestClient(other, follow_redirects=False)]
    other_db.dispose()


def attempt(client: TestClient, email: str, password: str = "fel-lösenord") -> Any:
    return client.post("/admin/login", data={"email": email, "password": password})


def test_failures_are_counted_across_processes_per_email_and_address(two_processes: list[TestClient]) -> None:
    limit = throttle.ACCOUNT_LIMIT
    statuses = [attempt(two_processes[i % 2], "nobody@norrsken.test").status_code for i in range(limit)]
    assert statuses == [401] * throttle.ACCOUNT_LIMIT
    for client in two_processes:  # refused by both: neither counted alone up to the limit
        refused = attempt(client, "nobody@norrsken.test")
        assert refused.status_code == 429
        assert "För många misslyckade inloggningar" in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= throttle.WINDOW_SECONDS + 1
    # Another e-mail address from the same place is still tried (its own count; the address's is
    # below its limit).
    assert attempt(two_processes[0], "someone@norrsken.test").status_code == 401


def test_many_accounts_guessed_from_one_address_are_refused_across_processes(
    two_processes: list[TestClient],
) -> None:
    statuses = [
        attempt(two_processes[i % 2], f"guess{i}@norrsken.test").status_code for i in range(throttle.ADDRESS_LIMIT)
    ]
    assert statuses == [401] * throttle.ADDRESS_LIMIT
    assert attempt(two_processes[1], "new-guess@norrsken.test").status_code == 429


def test_the_lockout_message_is_in_english_too(two_processes: list[TestClient]) -> None:
    for i in range(throttle.ACCOUNT_LIMIT):
        attempt(two_processes[i % 2], "nobody@norrsken.test")
    refused = two_processes[0].post("/admin/login?lang=en", data={"email": "nobody@norrsken.test", "password": "x"})
    assert refused.status_code == 429 and "Too many failed logins" in refused.text


def test_a_successful_login_clears_the_accounts_count(
    two_processes: list[TestClient], db: Database, tenant_a: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ACCOUNT_LIMIT", 3)  # below the account lock (users.MAX_FAILURES)
    make_staff(db, tenant_a[0], "anna@norrsken.test", "support")
    first, second = two_processes
    assert [attempt(first, "anna@norrsken.test").status_code for _ in range(2)] == [401, 401]
    assert attempt(second, "anna@norrsken.test", PASSWORD).status_code == 303
    # Counted from zero again: two more failures are tried, the limit is reached only at three.
    assert [attempt(second, "anna@norrsken.test").status_code for _ in range(3)] == [401, 401, 401]
    assert attempt(first, "anna@norrsken.test", PASSWORD).status_code == 429


def test_an_ended_window_is_forgotten(two_processes: list[TestClient], db: Database) -> None:
    for i in range(throttle.ACCOUNT_LIMIT):
        attempt(two_processes[i % 2], "nobody@norrsken.test")
    assert attempt(two_processes[0], "nobody@norrsken.test").status_code == 429
    with db.transaction() as session:  # the window's time passes
        for row in session.scalars(select(LoginThrottle)):
            row.window_start -= timedelta(seconds=throttle.WINDOW_SECONDS + 1)
    assert attempt(two_processes[1], "nobody@norrsken.test").status_code == 401
    keys = throttle.keys_for("nobody@norrsken.test", "testclient")
    with db.read() as session:
        counts = {row.key: row.failures for row in session.scalars(select(LoginThrottle))}
    assert counts == {keys.address: 1, keys.account: 1}  # a new window, nothing of the old one kept


def test_no_email_or_address_is_stored_as_such(two_processes: list[TestClient], db: Database) -> None:
    attempt(two_processes[0], "nobody@norrsken.test")
    with db.read() as session:
        keys = list(session.scalars(select(LoginThrottle.key)))
    assert len(keys) == 2 and all(len(key) == 64 and "norrsken" not in key for key in keys)
