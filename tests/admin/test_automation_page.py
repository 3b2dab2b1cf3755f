"""Händelsekedjor: the rules and their firings as the tables hold them; an admin switches a rule
on and off through the automation service, audited; the other roles, a missing CSRF token and
another tenant's staff are refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.config import Settings
from kvitt.core.db import Database
from tests.admin.conftest import Staff
from tests.webhooks.helpers import issue_invoice, run_worker

RULE = {
    "name": "Tacka för betalningen",
    "trigger": "invoice.paid",
    "actions": [{"type": "add_tag", "tag": "betalat"}],
}


@pytest.fixture
def rule(api: Any) -> dict[str, Any]:
    created = api.post("/automation-rules", RULE)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_an_admin_switches_a_rule_off_and_on_audited(
    admin: Staff, api: Any, rule: dict[str, Any], db: Database, tenant_a: Any
) -> None:
    page = admin.get("/admin/handelsekedjor").text
    assert "Tacka för betalningen" in page and "invoice.paid" in page
    off = admin.post(f"/admin/handelsekedjor/{rule['id']}/pa", {"enabled": "0"})
    assert off.status_code == 303 and off.headers["location"].endswith("done=disabled")
    assert api.get(f"/automation-rules/{rule['id']}").json()["enabled"] is False
    assert "Regeln är avstängd." in admin.get(off.headers["location"]).text
    assert admin.post(f"/admin/handelsekedjor/{rule['id']}/pa", {"enabled": "1"}).status_code == 303
    assert api.get(f"/automation-rules/{rule['id']}").json()["enabled"] is True
    with db.read() as session:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.tenant_id == tenant_a[0], AuditEntry.action == "automation.set_enabled")
                .order_by(AuditEntry.id)
            )
        )
    assert [(r.before, r.after, r.target) for r in rows] == [
        ({"enabled": True}, {"enabled": False}, f"automation_rule:{rule['id']}"),
        ({"enabled": False}, {"enabled": True}, f"automation_rule:{rule['id']}"),
    ]
    assert admin.post(f"/admin/handelsekedjor/{rule['id']}/pa", {"enabled": "kanske"}).status_code == 422


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_an_admin_switches_a_rule(staff_factory: Any, api: Any, rule: dict[str, Any], role: str) -> None:
    staff = staff_factory(role)
    assert staff.post(f"/admin/handelsekedjor/{rule['id']}/pa", {"enabled": "0"}).status_code == 403
    assert api.get(f"/automation-rules/{rule['id']}").json()["enabled"] is True
    if role in ("marketing", "read_only"):  # they read the page, without the buttons
        page = staff.get("/admin/handelsekedjor").text
        assert "Tacka för betalningen" in page and f"/admin/handelsekedjor/{rule['id']}/pa" not in page


def test_a_form_without_the_sessions_csrf_token_is_refused(admin: Staff, api: Any, rule: dict[str, Any]) -> None:
    path = f"/admin/handelsekedjor/{rule['id']}/pa"
    assert admin.post(path, {"enabled": "0"}, csrf="").status_code == 403
    assert admin.post(path, {"enabled": "0"}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert api.get(f"/automation-rules/{rule['id']}").json()["enabled"] is True


def test_another_tenants_rule_is_neither_shown_nor_switched(admin: Staff, api_b: Any) -> None:
    theirs = api_b.post("/automation-rules", {**RULE, "name": "Fjällströms kedja"}).json()
    assert "Fjällströms kedja" not in admin.get("/admin/handelsekedjor").text
    assert admin.post(f"/admin/handelsekedjor/{theirs['id']}/pa", {"enabled": "0"}).status_code == 404
    assert api_b.get(f"/automation-rules/{theirs['id']}").json()["enabled"] is True


def test_the_pages_list_the_tenants_real_firings_and_billing_runs(
    admin: Staff, api: Any, db: Database, settings: Settings
) -> None:
    """Händelsekedjor shows a firing the worker made; Fakturering a billing run started with the API."""
    made = api.post("/automation-rules", {**RULE, "trigger": "invoice.issued"}).json()
    invoice = issue_invoice(api, "1001")
    run_worker(db, settings)
    assert [f["state"] for f in api.get(f"/automation-rules/{made['id']}/firings").json()["data"]] == ["done"]
    page = admin.get("/admin/handelsekedjor").text
    firings = page.split("Senaste körningarna", 1)[1]
    assert "invoice.issued" in firings and f'/admin/fakturor/{invoice["id"]}"' in firings and "done" in firings
    assert api.post("/billing-runs", {"date": "2026-03-01"}).status_code == 202
    billing = admin.get("/admin/fakturering").text
    assert "2026-03-01" in billing and "Inget här ännu." in billing.split("Faktureringsfiler", 1)[1]
