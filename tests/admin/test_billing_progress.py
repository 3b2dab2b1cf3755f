"""Fakturering: a running billing run's progress without a reload. The runs table is a fragment
(``/admin/fakturering/korningar``) that htmx asks for every 2 s while a run shown is running and
that stops asking (no trigger) once all are done; without JavaScript the page shows the state
when loaded with a link to load it again. The fragment has the page's roles and tenant."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kvitt.billing.seed import seed_subscriptions
from kvitt.core.config import Settings
from kvitt.core.db import Database
from tests.admin.conftest import Staff
from tests.webhooks.helpers import run_worker

FRAGMENT = "/admin/fakturering/korningar"
POLLING = f'hx-get="{FRAGMENT}" hx-trigger="every 2s" hx-swap="outerHTML"'


def runs_section(html: str) -> str:
    found = re.search(r'<section id="billing-runs"[^>]*>.*?</section>', html, re.S)
    assert found is not None, html[:2000]
    return found.group(0)


@pytest.fixture
def started(admin: Staff, api: Any, db: Database, tenant_a: tuple[int, str]) -> dict[str, Any]:
    with db.transaction() as session:
        seed_subscriptions(session, tenant_a[0], 2, start=date(2026, 1, 1))
    assert admin.post("/admin/fakturering/korning", {"date": "2026-02-01"}).status_code == 303
    (run,) = api.get("/billing-runs").json()["data"]
    assert run["state"] == "running"
    return dict(run)


def test_the_fragment_polls_while_the_run_runs_and_stops_when_it_is_done(
    admin: Staff, api: Any, db: Database, settings: Settings, started: dict[str, Any]
) -> None:
    parts = started["partitions"]
    fragment = admin.get(FRAGMENT, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.headers["cache-control"] == "no-store"
    assert "<html" not in fragment.text  # the table alone, not the page
    section = runs_section(fragment.text)
    assert POLLING in section and f"<td>0/{parts}</td>" in section and "<td>running</td>" in section
    assert "<noscript>" in section and 'href="/admin/fakturering"' in section
    run_worker(db, settings)
    assert api.get("/billing-runs").json()["data"][0]["state"] == "done"
    finished = runs_section(admin.get(FRAGMENT, headers={"HX-Request": "true"}).text)
    assert "hx-trigger" not in finished and "hx-get" not in finished  # htmx stops asking
    assert f"<td>{parts}/{parts}</td>" in finished and "<td>done</td>" in finished


def test_without_javascript_the_page_shows_the_state_when_loaded(
    admin: Staff, db: Database, settings: Settings, started: dict[str, Any]
) -> None:
    page = admin.get("/admin/fakturering").text
    section = runs_section(page)
    assert POLLING in section and f"<td>0/{started['partitions']}</td>" in section
    assert "varannan sekund" in section and "ladda om sidan" in section
    run_worker(db, settings)
    done = runs_section(admin.get("/admin/fakturering").text)
    assert "hx-trigger" not in done and "varannan sekund" not in done


def test_no_run_no_polling(admin: Staff) -> None:
    section = runs_section(admin.get(FRAGMENT).text)
    assert "hx-trigger" not in section and "Inget här ännu." in section


@pytest.mark.parametrize(
    ("role", "status"), [("finance", 200), ("read_only", 200), ("support", 403), ("marketing", 403)]
)
def test_the_fragment_has_the_pages_roles(staff_factory: Any, started: dict[str, Any], role: str, status: int) -> None:
    staff = staff_factory(role)
    assert staff.get("/admin/fakturering").status_code == status
    answer = staff.get(FRAGMENT, headers={"HX-Request": "true"})
    assert answer.status_code == status
    assert ("2026-02-01" in answer.text) is (status == 200)


def test_without_a_session_the_fragment_sends_to_the_login(app: Any, started: dict[str, Any]) -> None:
    client = TestClient(app, follow_redirects=False)
    plain = client.get(FRAGMENT)
    assert plain.status_code == 303 and "/admin/login" in plain.headers["location"]
    polled = client.get(FRAGMENT, headers={"HX-Request": "true"})
    assert polled.status_code == 204 and "/admin/login" in polled.headers["HX-Redirect"]
    assert "2026-02-01" not in plain.text + polled.text


def test_another_tenants_runs_are_not_in_the_fragment(
    staff_factory: Any, started: dict[str, Any], api_b: Any, tenant_b: tuple[int, str]
) -> None:
    theirs = staff_factory("admin", email="chef@fjallstrom.test", tenant_id=tenant_b[0])
    section = runs_section(theirs.get(FRAGMENT).text)
    assert "2026-02-01" not in section and "hx-trigger" not in section and "Inget här ännu." in section
