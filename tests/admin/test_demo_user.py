"""The demo's back-office user: a newcomer logs in at once with the printed password."""

from __future__ import annotations

from datetime import date
from typing import Any

from kvitt.admin.users import ensure_demo_user
from kvitt.core.db import Database
from kvitt.demo import seed_demo
from tests.admin.conftest import Staff


def test_the_demo_creates_demo_at_kvitt_local_with_a_printed_password(app: Any, db: Database) -> None:
    with db.transaction() as session:
        result = seed_demo(session, customers=5, seed=7, today=date(2026, 11, 30))
    assert result["staff_email"] == "demo@kvitt.local"
    demo = Staff(app, "demo@kvitt.local", result["staff_password"])
    assert demo.login_response.status_code == 303 and demo.login_response.headers["location"] == "/admin"
    assert demo.get("/admin/fakturor").status_code == 200  # an admin: no password change first

    # Each start of `kvitt run` sets a new one (passwords are kept hashed) and ends old sessions.
    with db.transaction() as session:
        fresh = ensure_demo_user(session, result["tenant_id"])
    assert fresh != result["staff_password"]
    assert demo.get("/admin/fakturor").status_code == 303
    assert Staff(app, "demo@kvitt.local", result["staff_password"]).login_response.status_code == 401
    assert Staff(app, "demo@kvitt.local", fresh).login_response.status_code == 303
