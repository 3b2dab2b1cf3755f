"""Påminnelser och inkasso, what admins do besides policies' steps: delete a policy
(``dunning.policies.delete``, as the API's DELETE, with its refusals: the default policy, one that
reminders were sent under), change the dunning settings (``dunning.extensions.update_settings``
with the API's ``SettingsUpdate``, as ``PATCH /api/v1/dunning-settings``: extension limits and
the collection agency; the key never shown nor logged), and read the instalment plans. Each
action audited; other roles, a missing CSRF token and another tenant are refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.db import Database
from tests.admin.conftest import Staff
from tests.dunning.isolation_cases import _open_invoice, _overdue_invoice, _run

POLICY = {"name": "Företag", "priority": 5, "steps": [{"days": 3, "after": "due"}]}
SETTINGS = {
    "extension_auto_days": "7",
    "extension_max_days": "45",
    "agency_url": "https://inkasso.example/api",
    "agency_api_key": "hemlig-nyckel-123",
}


def audit_rows(db: Database, tenant_id: int, action: str) -> list[AuditEntry]:
    with db.read() as session:
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def make_policy(api: Any, **changes: Any) -> dict[str, Any]:
    created = api.post("/dunning-policies", {**POLICY, **changes})
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_an_admin_deletes_a_policy_audited(admin: Staff, api: Any, db: Database, tenant_a: Any) -> None:
    policy = make_policy(api)
    page = admin.get("/admin/paminnelser").text
    assert f'action="/admin/paminnelser/policyer/{policy["id"]}/ta-bort"' in page
    answer = admin.post(f"/admin/paminnelser/policyer/{policy['id']}/ta-bort")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/paminnelser?done=deleted#policyer"
    assert api.get(f"/dunning-policies/{policy['id']}").status_code == 404
    [row] = audit_rows(db, tenant_a[0], "dunning.policy_delete")
    assert row.target == f"dunning_policy:{policy['id']}" and row.after is None
    assert row.before is not None and row.before["name"] == "Företag" and row.before["priority"] == 5


def test_the_apis_refusals_the_default_and_a_policy_in_use(admin: Staff, api: Any, db: Database, tenant_a: Any) -> None:
    default = next(p for p in api.get("/dunning-policies").json()["data"] if p["is_default"])
    assert f"/admin/paminnelser/policyer/{default['id']}/ta-bort" not in admin.get("/admin/paminnelser").text
    refused = admin.post(f"/admin/paminnelser/policyer/{default['id']}/ta-bort")
    assert refused.status_code == 422 and "the default policy cannot be deleted" in refused.text
    # reminders sent under a policy keep it: the API says to switch it off
    used = make_policy(api, name="Alla", priority=1, steps=[{"days": 1, "after": "due"}])
    invoice = _overdue_invoice(api, "R-1")
    _run(api)
    assert api.get("/reminders", params={"invoice": invoice["id"]}).json()["data"], "no reminder was sent"
    refused = admin.post(f"/admin/paminnelser/policyer/{used['id']}/ta-bort")
    assert refused.status_code == 422 and "switch it off" in refused.text
    assert api.get(f"/dunning-policies/{used['id']}").status_code == 200
    assert api.get(f"/dunning-policies/{default['id']}").status_code == 200
    assert audit_rows(db, tenant_a[0], "dunning.policy_delete") == []


def test_an_admin_changes_the_dunning_settings_as_the_api_does(
    admin: Staff, api: Any, db: Database, tenant_a: Any
) -> None:
    answer = admin.post("/admin/paminnelser/installningar", SETTINGS)
    assert answer.status_code == 303, answer.text
    assert api.get("/dunning-settings").json() == {
        "object": "dunning_settings",
        "extension_auto_days": 7,
        "extension_max_days": 45,
        "agency_url": "https://inkasso.example/api",
        "agency_api_key_set": True,
    }
    page = admin.get("/admin/paminnelser").text
    assert "hemlig-nyckel-123" not in page and 'value="https://inkasso.example/api"' in page
    [row] = audit_rows(db, tenant_a[0], "dunning.settings")
    assert row.before == {
        "extension_auto_days": 14,
        "extension_max_days": 60,
        "agency_url": None,
        "agency_api_key_set": False,
    }
    assert row.after == {
        "extension_auto_days": 7,
        "extension_max_days": 45,
        "agency_url": "https://inkasso.example/api",
        "agency_api_key_set": True,
    }
    # an empty key field keeps the key; emptying the address removes the agency; remove_key the key
    kept = {**SETTINGS, "agency_api_key": "", "agency_url": ""}
    assert admin.post("/admin/paminnelser/installningar", kept).status_code == 303
    assert api.get("/dunning-settings").json()["agency_api_key_set"] is True
    assert api.get("/dunning-settings").json()["agency_url"] is None
    gone = {**kept, "remove_key": "1"}
    assert admin.post("/admin/paminnelser/installningar", gone).status_code == 303
    assert api.get("/dunning-settings").json()["agency_api_key_set"] is False
    assert "hemlig-nyckel-123" not in str(
        [(r.before, r.after) for r in audit_rows(db, tenant_a[0], "dunning.settings")]
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("extension_auto_days", "366"),
        ("extension_max_days", "-1"),
        ("agency_url", "inkasso.example"),
        ("extension_auto_days", "sju"),
    ],
)
def test_the_apis_model_refuses_bad_settings(admin: Staff, api: Any, field: str, value: str) -> None:
    before = api.get("/dunning-settings").json()
    refused = admin.post("/admin/paminnelser/installningar", {**SETTINGS, field: value})
    assert refused.status_code == 422 and field in refused.text
    assert api.get("/dunning-settings").json() == before


def test_instalment_plans_are_listed(admin: Staff, api: Any) -> None:
    invoice = _open_invoice(api, "P-1")
    body = {"invoice": invoice["id"], "parts": 3, "first_due_date": "2099-02-28"}
    plan = api.post("/instalment-plans", body)
    assert plan.status_code == 201, plan.text
    page = admin.get("/admin/paminnelser").text
    section = page[page.index('id="avbetalning"') : page.index('id="inkasso"')]
    assert f'href="/admin/fakturor/{invoice["id"]}"' in section and "Pågår" in section
    assert section.count("2099-0") == 3  # each part's due date


def test_without_csrf_nothing_changes(admin: Staff, api: Any) -> None:
    policy = make_policy(api)
    assert admin.post(f"/admin/paminnelser/policyer/{policy['id']}/ta-bort", csrf="").status_code == 403
    assert admin.post("/admin/paminnelser/installningar", SETTINGS, csrf="").status_code == 403
    assert api.get(f"/dunning-policies/{policy['id']}").status_code == 200
    assert api.get("/dunning-settings").json()["extension_auto_days"] == 14


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_admins_delete_policies_and_change_settings(staff_factory: Any, api: Any, role: str) -> None:
    policy = make_policy(api)
    staff = staff_factory(role)
    assert staff.post(f"/admin/paminnelser/policyer/{policy['id']}/ta-bort").status_code == 403
    assert staff.post("/admin/paminnelser/installningar", SETTINGS).status_code == 403
    assert api.get(f"/dunning-policies/{policy['id']}").status_code == 200
    assert api.get("/dunning-settings").json()["extension_auto_days"] == 14
    if role in ("finance", "read_only"):  # they read the page: the settings without the form
        page = staff.get("/admin/paminnelser").text
        assert "Anstånd och inkassobolag" in page and "/admin/paminnelser/installningar" not in page
        assert "/ta-bort" not in page


def test_another_tenants_settings_are_not_changed(admin: Staff, api: Any, api_b: Any) -> None:
    assert api_b.patch("/dunning-settings", {"agency_url": "https://b.example"}).status_code == 200
    assert admin.post("/admin/paminnelser/installningar", SETTINGS).status_code == 303
    assert api_b.get("/dunning-settings").json()["agency_url"] == "https://b.example"
    assert api_b.get("/dunning-settings").json()["extension_auto_days"] == 14
    assert "b.example" not in admin.get("/admin/paminnelser").text


def test_the_section_in_english(admin: Staff) -> None:
    page = admin.get("/admin/paminnelser?lang=en").text
    assert "Payment extensions and collection agency" in page and "Instalment plans" in page
