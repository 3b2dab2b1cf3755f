"""Händelsekedjor: an admin writes a rule (trigger, conditions, actions, wait, on/off) and changes
it, through the automation service and the API's RuleCreate/RuleUpdate; a bad rule is refused
with a clear field error (and the line) and nothing is written; a rule written here fires on a
real event like one written with the API; other roles, forms without the session's CSRF token and
another tenant's staff are refused; each write is audited."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.config import Settings
from kvitt.core.db import Database
from tests.admin.conftest import Staff
from tests.webhooks.helpers import issue_invoice, run_worker

FORM = {
    "name": "Stora fakturor till SMS",
    "description": "Påminn om stora belopp",
    "trigger": "invoice.issued",
    "conditions": "invoice.total gt 10000\ncustomer.email exists",
    "actions": "add_tag stor\nnotify_staff Stor faktura | Faktura {{ invoice.number }} är stor",
    "wait_days": "0",
    "wait_hours": "2",
    "wait_minutes": "30",
    "enabled": "1",
}


def rules(api: Any) -> list[dict[str, Any]]:
    return list(api.get("/automation-rules").json()["data"])


def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_an_admin_writes_a_rule_the_api_reads_back(admin: Staff, api: Any, db: Database) -> None:
    answer = admin.post("/admin/handelsekedjor", FORM)
    assert answer.status_code == 303, unescape(answer.text)
    (rule,) = rules(api)
    assert answer.headers["location"] == f"/admin/handelsekedjor/{rule['id']}?done=saved"
    assert (rule["name"], rule["trigger"], rule["enabled"]) == ("Stora fakturor till SMS", "invoice.issued", True)
    assert rule["conditions"] == [
        {"field": "invoice.total", "op": "gt", "value": 10000},
        {"field": "customer.email", "op": "exists", "value": None},
    ]
    assert rule["actions"] == [
        {"type": "add_tag", "tag": "stor"},
        {"type": "notify_staff", "subject": "Stor faktura", "text": "Faktura {{ invoice.number }} är stor"},
    ]
    assert rule["wait"] == {"days": 0, "hours": 2, "minutes": 30}
    (row,) = audit_rows(db, "automation.create")
    assert row.target == f"automation_rule:{rule['id']}" and row.after is not None and row.after["wait_minutes"] == 150
    # The rule's page writes it back as it was typed: saving it unchanged changes nothing.
    page = unescape(admin.get(f"/admin/handelsekedjor/{rule['id']}").text)
    assert "invoice.total gt 10000\ncustomer.email exists</textarea>" in page
    assert "notify_staff Stor faktura | Faktura {{ invoice.number }} är stor</textarea>" in page
    assert admin.post(f"/admin/handelsekedjor/{rule['id']}", FORM).status_code == 303
    assert rules(api) == [rule] and audit_rows(db, "automation.update") == []


def test_an_admin_changes_and_switches_off_a_rule(admin: Staff, api: Any, db: Database) -> None:
    assert admin.post("/admin/handelsekedjor", FORM).status_code == 303
    (rule,) = rules(api)
    changed = {**FORM, "actions": "send sms\npause_dunning customer 14", "wait_hours": "0", "wait_minutes": ""}
    del changed["enabled"]
    assert admin.post(f"/admin/handelsekedjor/{rule['id']}", changed).status_code == 303
    after = api.get(f"/automation-rules/{rule['id']}").json()
    assert after["actions"] == [
        {"type": "send", "channel": "sms"},
        {"type": "pause_dunning", "scope": "customer", "days": 14, "reason": "automation"},
    ]
    assert after["wait"] is None and after["enabled"] is False
    (row,) = audit_rows(db, "automation.update")
    assert row.before is not None and row.after is not None
    assert set(row.after) == {"actions", "wait_minutes", "enabled"} and row.before["enabled"] is True


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"trigger": "invoice.exploded"}, "unknown event type 'invoice.exploded'"),
        ({"conditions": "invoice.total gt 1\ninvoice.colour eq red"}, "conditions, line 2:"),
        ({"conditions": "invoice.total between 1"}, "conditions, line 1:"),
        ({"actions": "add_tag stor\nexplode now"}, "actions, line 2: unknown action 'explode'"),
        ({"actions": "send pigeon"}, "actions, line 1:"),
        ({"actions": "add_tag"}, "actions, line 1:"),
        ({"actions": "webhook 999999"}, "999999"),
        ({"actions": ""}, "at least one action"),
        ({"wait_days": "400"}, "days"),
        ({"wait_hours": "två"}, "wait_hours: a whole number"),
        ({"name": ""}, "name"),
    ],
    ids=[
        "trigger",
        "condition-field",
        "condition-op",
        "action-kind",
        "channel",
        "tag",
        "endpoint",
        "no-actions",
        "wait-days",
        "wait-text",
        "no-name",
    ],
)
def test_a_bad_rule_is_refused_naming_the_field_and_nothing_is_written(
    admin: Staff, api: Any, db: Database, change: dict[str, str], says: str
) -> None:
    refused = admin.post("/admin/handelsekedjor", {**FORM, **change})
    assert refused.status_code in (404, 422), refused.text
    assert says in unescape(refused.text)
    assert rules(api) == [] and audit_rows(db, "automation.create") == []


def test_a_rule_written_here_fires_on_a_real_event(admin: Staff, api: Any, db: Database, settings: Settings) -> None:
    form = {**FORM, "conditions": "invoice.total gt 10000", "actions": "add_tag stor", "wait_hours": "0"}
    form["wait_minutes"] = "0"
    assert admin.post("/admin/handelsekedjor", form).status_code == 303
    invoice = issue_invoice(api)
    run_worker(db, settings)
    (rule,) = rules(api)
    firings = api.get(f"/automation-rules/{rule['id']}/firings").json()["data"]
    assert [(f["event_type"], f["invoice"], f["state"]) for f in firings] == [("invoice.issued", invoice["id"], "done")]
    customer = api.get(f"/customers/{invoice['customer']}").json()
    assert "stor" in customer["attributes"]["tags"]


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_an_admin_writes_a_rule(staff_factory: Any, admin: Staff, api: Any, role: str) -> None:
    assert admin.post("/admin/handelsekedjor", FORM).status_code == 303
    (rule,) = rules(api)
    staff = staff_factory(role)
    assert staff.post("/admin/handelsekedjor", {**FORM, "name": "Annan"}).status_code == 403
    assert staff.post(f"/admin/handelsekedjor/{rule['id']}", {**FORM, "name": "Annan"}).status_code == 403
    assert rules(api) == [rule]
    if role in ("marketing", "read_only"):  # they read the rule, without a button to save it
        page = staff.get(f"/admin/handelsekedjor/{rule['id']}")
        assert page.status_code == 200 and "Spara regeln" not in page.text


def test_a_form_without_the_sessions_csrf_token_is_refused(admin: Staff, staff_factory: Any, api: Any) -> None:
    other = staff_factory("read_only")
    assert admin.post("/admin/handelsekedjor", FORM, csrf="").status_code == 403
    assert admin.post("/admin/handelsekedjor", FORM, csrf=other.csrf()).status_code == 403
    assert admin.post("/admin/handelsekedjor", FORM, headers={"Origin": "https://evil.example"}).status_code == 403
    assert rules(api) == []


def test_another_tenants_admin_neither_reads_nor_changes_the_rule(
    admin: Staff, staff_factory: Any, api: Any, api_b: Any, tenant_b: tuple[int, str]
) -> None:
    assert admin.post("/admin/handelsekedjor", FORM).status_code == 303
    (rule,) = rules(api)
    theirs = staff_factory("admin", email="chef@fjallstrom.test", tenant_id=tenant_b[0])
    assert theirs.get(f"/admin/handelsekedjor/{rule['id']}").status_code == 404
    assert theirs.post(f"/admin/handelsekedjor/{rule['id']}", {**FORM, "name": "Kapad"}).status_code == 404
    assert "Stora fakturor till SMS" not in theirs.get("/admin/handelsekedjor").text
    assert rules(api) == [rule] and rules(api_b) == []
    # A webhook endpoint of another tenant is not one of theirs to name.
    endpoint = api.post("/webhook-endpoints", {"url": "https://example.com/hook", "events": ["*"]}).json()
    refused = theirs.post("/admin/handelsekedjor", {**FORM, "actions": f"webhook {endpoint['id']}"})
    assert refused.status_code in (404, 422) and rules(api_b) == []
