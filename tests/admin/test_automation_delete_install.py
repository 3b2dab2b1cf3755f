"""Händelsekedjor: an admin deletes a rule (``automation.service.delete_rule``, as the API's
DELETE) and installs a shipped event chain from the page's list
(``automation.service.install_template``, as ``POST /api/v1/automation-rules/templates``), each
audited; a template installed already is refused as the API refuses it; the other roles, a
missing CSRF token and another tenant's rules are refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.automation.templates import TEMPLATES
from kvitt.core.db import Database
from tests.admin.conftest import Staff

RULE = {"name": "Tacka för betalningen", "trigger": "invoice.paid", "actions": [{"type": "add_tag", "tag": "betalat"}]}
TEMPLATE = sorted(TEMPLATES)[0]


@pytest.fixture
def rule(api: Any) -> dict[str, Any]:
    created = api.post("/automation-rules", RULE)
    assert created.status_code == 201, created.text
    return dict(created.json())


def audit_rows(db: Database, tenant_id: int, action: str) -> list[AuditEntry]:
    with db.read() as session:
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def test_an_admin_deletes_a_rule_audited(
    admin: Staff, api: Any, rule: dict[str, Any], db: Database, tenant_a: Any
) -> None:
    assert (
        f'action="/admin/handelsekedjor/{rule["id"]}/ta-bort"' in admin.get(f"/admin/handelsekedjor/{rule['id']}").text
    )
    answer = admin.post(f"/admin/handelsekedjor/{rule['id']}/ta-bort")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/handelsekedjor?done=deleted"
    assert api.get(f"/automation-rules/{rule['id']}").status_code == 404
    assert "Borttaget." in admin.get(answer.headers["location"]).text
    [row] = audit_rows(db, tenant_a[0], "automation.delete")
    assert row.target == f"automation_rule:{rule['id']}" and row.after is None
    assert row.before is not None and row.before["name"] == RULE["name"] and row.before["trigger"] == "invoice.paid"
    assert admin.post(f"/admin/handelsekedjor/{rule['id']}/ta-bort").status_code == 404


def test_an_admin_installs_a_template_from_the_list_once(admin: Staff, api: Any, db: Database, tenant_a: Any) -> None:
    page = admin.get("/admin/handelsekedjor").text
    assert f'name="template" value="{TEMPLATE}"' in page
    answer = admin.post("/admin/handelsekedjor/mallar", {"template": TEMPLATE})
    assert answer.status_code == 303, answer.text
    listed = {t["name"]: t for t in api.get("/automation-rules/templates").json()["data"]}
    rule_id = listed[TEMPLATE]["installed"]
    assert answer.headers["location"] == f"/admin/handelsekedjor/{rule_id}?done=installed"
    rule = api.get(f"/automation-rules/{rule_id}").json()
    assert rule["enabled"] is False and rule["trigger"] == TEMPLATES[TEMPLATE].rule["trigger"]
    page = admin.get("/admin/handelsekedjor").text
    assert f'href="/admin/handelsekedjor/{rule_id}"' in page and f'name="template" value="{TEMPLATE}"' not in page
    [row] = audit_rows(db, tenant_a[0], "automation.install_template")
    assert row.target == f"automation_rule:{rule_id}" and row.after is not None
    assert row.after["template"] == TEMPLATE and row.after["enabled"] is False

    again = admin.post("/admin/handelsekedjor/mallar", {"template": TEMPLATE})
    assert again.status_code == 422 and "installed already" in again.text
    unknown = admin.post("/admin/handelsekedjor/mallar", {"template": "finns_inte"})
    assert unknown.status_code == 404 and "no template" in unknown.text
    assert [r["id"] for r in api.get("/automation-rules").json()["data"]] == [rule_id]


def test_without_csrf_nothing_is_deleted_or_installed(admin: Staff, api: Any, rule: dict[str, Any]) -> None:
    assert admin.post(f"/admin/handelsekedjor/{rule['id']}/ta-bort", csrf="").status_code == 403
    assert admin.post("/admin/handelsekedjor/mallar", {"template": TEMPLATE}, csrf="").status_code == 403
    assert [r["id"] for r in api.get("/automation-rules").json()["data"]] == [rule["id"]]


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_an_admin_deletes_or_installs(staff_factory: Any, api: Any, rule: dict[str, Any], role: str) -> None:
    staff = staff_factory(role)
    assert staff.post(f"/admin/handelsekedjor/{rule['id']}/ta-bort").status_code == 403
    assert staff.post("/admin/handelsekedjor/mallar", {"template": TEMPLATE}).status_code == 403
    assert [r["id"] for r in api.get("/automation-rules").json()["data"]] == [rule["id"]]
    if role in ("marketing", "read_only"):  # they read the page, without the forms
        page = staff.get("/admin/handelsekedjor").text
        assert "Färdiga kedjor" in page and "/admin/handelsekedjor/mallar" not in page
        assert "/ta-bort" not in staff.get(f"/admin/handelsekedjor/{rule['id']}").text


def test_the_list_in_english(admin: Staff) -> None:
    assert "Ready-made chains" in admin.get("/admin/handelsekedjor?lang=en").text
