"""Staff accounts: login, sessions (signed cookie, idle timeout, logout), CSRF, throttling, roles."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from kvitt.admin import sessions, users
from kvitt.admin.models import AuditEntry, StaffUser
from kvitt.cli import app as cli
from kvitt.core.db import Database
from tests.admin.conftest import PASSWORD, Staff, admin_routes, make_staff


def test_the_login_page_asks_for_email_and_password(client: TestClient) -> None:
    page = client.get("/admin/login")
    assert page.status_code == 200
    assert 'name="email"' in page.text and 'name="password"' in page.text
    assert "Logga in" in page.text
    assert "Log in" in client.get("/admin/login?lang=en").text


def test_a_page_without_a_session_sends_to_the_login_page(client: TestClient) -> None:
    answer = client.get("/admin?q=anna", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/admin/login?next=/admin%3Fq%3Danna")


def test_login_sets_a_signed_httponly_lax_cookie_and_the_pages_open(app: Any, db: Database, tenant_a: Any) -> None:
    make_staff(db, tenant_a[0], "Anna@Norrsken.test", "support")
    staff = Staff(app, "anna@norrsken.test")
    answer = staff.login_response
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http (the test server); see the https test
    home = staff.get("/admin")
    assert home.status_code == 200
    assert "Norrsken Telekom AB" in home.text and "Kunder" in home.text
    with db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.login"))
    assert entry is not None and entry.staff_email == "anna@norrsken.test" and entry.tenant_id == tenant_a[0]


def test_the_cookie_is_secure_behind_https(app: Any, db: Database, tenant_a: Any) -> None:
    make_staff(db, tenant_a[0], "anna@norrsken.test", "support")
    staff = Staff(app, "anna@norrsken.test", base_url="https://testserver")
    assert "Secure" in staff.login_response.headers["set-cookie"]


def test_a_wrong_password_or_unknown_email_gets_one_answer(client: TestClient, db: Database, tenant_a: Any) -> None:
    make_staff(db, tenant_a[0], "anna@norrsken.test", "support")
    wrong = client.post("/admin/login", data={"email": "anna@norrsken.test", "password": "nej"})
    unknown = client.post("/admin/login", data={"email": "nobody@norrsken.test", "password": "nej"})
    assert wrong.status_code == unknown.status_code == 401
    assert sessions.COOKIE not in wrong.headers.get("set-cookie", "")
    assert "Fel e-postadress eller lösenord" in wrong.text and "Fel e-postadress eller lösenord" in unknown.text


def test_five_failures_lock_the_account_even_for_the_right_password(app: Any, db: Database, tenant_a: Any) -> None:
    make_staff(db, tenant_a[0], "anna@norrsken.test", "support")
    client = TestClient(app, follow_redirects=False)
    for _ in range(users.MAX_FAILURES):
        assert client.post("/admin/login", data={"email": "anna@norrsken.test", "password": "fel"}).status_code == 401
    right = client.post("/admin/login", data={"email": "anna@norrsken.test", "password": PASSWORD})
    assert right.status_code == 401
    with db.read() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.email == "anna@norrsken.test"))
        assert user is not None and user.locked_until is not None


def test_a_session_idle_too_long_has_expired(admin: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    from kvitt.admin import auth

    assert admin.get("/admin").status_code == 200
    real = auth.now_seconds
    monkeypatch.setattr(auth, "now_seconds", lambda: real() + sessions.IDLE_SECONDS + 5)
    answer = admin.get("/admin")
    assert answer.status_code == 303 and "done=expired" in answer.headers["location"]


def test_a_session_in_use_moves_on_and_stays(admin: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    from kvitt.admin import auth

    real = auth.now_seconds
    later = real() + sessions.IDLE_SECONDS - 60
    monkeypatch.setattr(auth, "now_seconds", lambda: later)
    answer = admin.get("/admin")
    assert answer.status_code == 200 and sessions.COOKIE in answer.headers["set-cookie"]
    monkeypatch.setattr(auth, "now_seconds", lambda: later + sessions.IDLE_SECONDS - 60)
    assert admin.get("/admin").status_code == 200  # within the idle time of the moved-on cookie


def test_a_forged_cookie_is_no_session(app: Any, admin: Staff) -> None:
    value = admin.client.cookies[sessions.COOKIE]
    staff_id, nonce, started, seen, _ = value.split(".")
    forged = TestClient(
        app, follow_redirects=False, cookies={sessions.COOKIE: f"{staff_id}.{nonce}.{started}.{seen}.00"}
    )
    assert forged.get("/admin").status_code == 303


def test_logout_ends_the_session_wherever_the_cookie_is_kept(app: Any, admin: Staff) -> None:
    stolen = admin.client.cookies[sessions.COOKIE]
    answer = admin.post("/admin/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/login?done=out"
    replay = TestClient(app, follow_redirects=False, cookies={sessions.COOKIE: stolen})
    assert replay.get("/admin").status_code == 303


def test_a_post_without_the_sessions_csrf_token_is_refused(app: Any, admin: Staff, staff_factory: Any) -> None:
    assert admin.post("/admin/logout", csrf="").status_code == 403
    other = staff_factory("support")
    assert admin.post("/admin/logout", csrf=other.csrf()).status_code == 403
    cross = admin.post("/admin/logout", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert admin.get("/admin").status_code == 200  # none of them logged out


def test_cli_creates_a_user_with_a_one_time_password_changed_at_first_login(
    app: Any, cli_env: str, tenant_a: Any, db: Database
) -> None:
    result = CliRunner().invoke(
        cli, ["users", "create", "--tenant", str(tenant_a[0]), "--email", "eva@norrsken.test", "--role", "finance"]
    )
    assert result.exit_code == 0, result.output
    one_time = result.output.strip().splitlines()[-1].rsplit(": ", 1)[1]
    staff = Staff(app, "eva@norrsken.test", one_time)
    assert staff.login_response.headers["location"] == "/admin/password"
    assert staff.get("/admin").headers["location"] == "/admin/password"
    csrf = staff.csrf()
    differ = staff.client.post(
        "/admin/password", data={"csrf": csrf, "current": one_time, "new": "a" * 12, "again": "b" * 12}
    )
    assert differ.status_code == 422
    changed = staff.client.post(
        "/admin/password",
        data={"csrf": csrf, "current": one_time, "new": "ett-nytt-lösenord", "again": "ett-nytt-lösenord"},
    )
    assert changed.status_code == 303
    assert staff.get("/admin").status_code == 200
    assert Staff(app, "eva@norrsken.test", one_time).login_response.status_code == 401
    assert Staff(app, "eva@norrsken.test", "ett-nytt-lösenord").login_response.status_code == 303


def test_cli_refuses_an_unknown_role_and_a_short_password(cli_env: str, tenant_a: Any) -> None:
    base = ["users", "create", "--tenant", str(tenant_a[0]), "--email", "eva@norrsken.test"]
    assert CliRunner().invoke(cli, [*base, "--role", "boss"]).exit_code == 1
    assert CliRunner().invoke(cli, [*base, "--role", "finance", "--password", "kort"]).exit_code == 1


def test_the_language_follows_the_staff_member(admin: Staff) -> None:
    assert "Kunder" in admin.get("/admin").text
    assert admin.post("/admin/language", {"lang": "en", "next": "/admin"}).status_code == 303
    page = admin.get("/admin").text
    assert "Customers" in page and '<html lang="en">' in page


def test_every_admin_route_but_login_and_assets_needs_staff(app: Any) -> None:
    open_paths = {"/admin/login", "/admin/assets/{name}", "/admin/login/kod"}
    for path, _, route in admin_routes(app):
        if path in open_paths:
            continue
        calls = [dep.call for dep in route.dependant.dependencies]
        assert any(hasattr(call, "roles") for call in calls), f"{path} has no require_staff"


def test_every_page_names_its_roles(app: Any) -> None:
    """No roles would let any staff member in: only the shell's own routes are for everyone."""
    for_everyone = {"/admin/password", "/admin/logout", "/admin/language", "/admin/tvastegs"}
    checked = 0
    for path, _, route in admin_routes(app):
        if path in for_everyone or path in {"/admin/login", "/admin/assets/{name}", "/admin/login/kod"}:
            continue
        roles = [dep.call.roles for dep in route.dependant.dependencies if hasattr(dep.call, "roles")]
        assert roles and all(roles), f"{path} is open to every role"
        checked += 1
    assert checked > 25
