"""Påminnelser och inkasso, Policyer: an admin creates a dunning policy (name, priority, rules as
``field op value`` lines, steps) and changes one's rules and priority, through the service and
input models of ``/api/v1/dunning-policies``; the legal fee caps, bad rules and bad steps are
refused naming the field (and the line), with nothing written; other roles and forms without the
session's CSRF token are refused; each change is audited; one tenant never reaches another's."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.db import Database
from tests.admin.conftest import Staff

NEW = {
    "name": "Företagskunder",
    "priority": "10",
    "active": "1",
    "rules": "attributes.kundtyp eq foretag\nage_years gte 2\n",
    "days_0": "5",
    "after_0": "due",
    "action_0": "reminder",
    "fee_0": "60",
    "interest_0": "1",
    "channel_0": "email",
    "due_days_0": "10",
    "days_1": "14",
    "after_1": "previous",
    "action_1": "collection",
    "fee_1": "180",
    "due_days_1": "10",
}


def by_name(api: Any, name: str) -> dict[str, Any] | None:
    found = [p for p in api.get("/dunning-policies").json()["data"] if p["name"] == name]
    return found[0] if found else None


def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_an_admin_creates_a_policy_the_api_reads_and_the_log_keeps(admin: Staff, api: Any, db: Database) -> None:
    answer = admin.post("/admin/paminnelser/policyer", NEW)
    assert answer.status_code == 303, answer.text
    policy = by_name(api, "Företagskunder")
    assert policy is not None and policy["priority"] == 10 and policy["active"] and not policy["is_default"]
    assert policy["rules"] == [
        {"field": "attributes.kundtyp", "op": "eq", "value": "foretag"},
        {"field": "age_years", "op": "gte", "value": 2},
    ]
    first, second = policy["steps"]
    assert (first["days"], first["after"], first["fee"], first["interest"], first["channel"]) == (
        5,
        "due",
        6000,
        True,
        "email",
    )
    assert (second["action"], second["fee"]) == ("collection", 18000)
    assert answer.headers["location"].endswith(f"#policy-{policy['id']}")
    (row,) = audit_rows(db, "dunning.policy_create")
    assert row.target == f"dunning_policy:{policy['id']}" and row.before is None
    assert row.after is not None and row.after["rules"] == policy["rules"] and row.staff_email == admin.email
    page = admin.get("/admin/paminnelser").text
    assert "attributes.kundtyp eq foretag\nage_years gte 2</textarea>" in page


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"fee_0": "60,01"}, "1981:739"),
        ({"fee_1": "181"}, "1981:1057"),
        ({"rules": "age_years gte 2\nskostorlek eq 43"}, "rules, line 2: unknown field 'skostorlek'"),
        ({"rules": "age_years"}, "rules, line 1: write field op value"),
        ({"rules": "segment eq first"}, "rules, line 1: segment names segment ids"),
        ({"action_0": "collection"}, "hand-over to collection must be the last step"),
        ({"days_0": "", "days_1": ""}, "at least one step"),
        ({"days_0": "fem"}, "steps[0].days"),
        ({"name": ""}, "name"),
        ({"priority": "först"}, "priority: a whole number"),
    ],
    ids=[
        "reminder-fee",
        "collection-fee",
        "unknown-field",
        "no-op",
        "segment-text",
        "collection-first",
        "no-steps",
        "days-text",
        "no-name",
        "priority-text",
    ],
)
def test_a_bad_policy_is_refused_naming_the_field_and_nothing_is_made(
    admin: Staff, api: Any, db: Database, change: dict[str, str], says: str
) -> None:
    refused = admin.post("/admin/paminnelser/policyer", {**NEW, **change})
    assert refused.status_code == 422, refused.text
    assert says in unescape(refused.text)
    assert by_name(api, "Företagskunder") is None and audit_rows(db, "dunning.policy_create") == []


def test_a_name_the_tenant_already_has_is_refused(admin: Staff, api: Any) -> None:
    assert admin.post("/admin/paminnelser/policyer", NEW).status_code == 303
    again = admin.post("/admin/paminnelser/policyer", NEW)
    assert again.status_code in (409, 422) and "Företagskunder" in again.text
    assert len([p for p in api.get("/dunning-policies").json()["data"] if p["name"] == "Företagskunder"]) == 1


def test_an_admin_changes_a_policys_rules_and_priority(admin: Staff, api: Any, db: Database) -> None:
    assert admin.post("/admin/paminnelser/policyer", NEW).status_code == 303
    policy = by_name(api, "Företagskunder")
    assert policy is not None
    form = {**NEW, "rules": 'segment in [4, 7]\nattributes.kundnummer eq "0042"', "priority": "5"}
    assert admin.post(f"/admin/paminnelser/policyer/{policy['id']}", form).status_code == 303
    changed = api.get(f"/dunning-policies/{policy['id']}").json()
    assert changed["priority"] == 5
    assert changed["rules"] == [
        {"field": "segment", "op": "in", "value": [4, 7]},
        {"field": "attributes.kundnummer", "op": "eq", "value": "0042"},  # quoted: stays text
    ]
    (row,) = audit_rows(db, "dunning.policy_update")
    assert row.before is not None and row.after is not None
    assert row.before["priority"] == 10 and row.after["priority"] == 5
    # The page writes the rules back so that saving again changes nothing ("0042" is not JSON: text).
    assert "segment in [4, 7]\nattributes.kundnummer eq 0042</textarea>" in unescape(
        admin.get("/admin/paminnelser").text
    )
    again = {**form, "rules": "segment in [4, 7]\nattributes.kundnummer eq 0042"}
    assert admin.post(f"/admin/paminnelser/policyer/{policy['id']}", again).status_code == 303
    assert api.get(f"/dunning-policies/{policy['id']}").json()["rules"] == changed["rules"]
    assert len(audit_rows(db, "dunning.policy_update")) == 1  # nothing changed: nothing logged
    bad = admin.post(f"/admin/paminnelser/policyer/{policy['id']}", {**form, "rules": "age_years between 1"})
    assert bad.status_code == 422 and "rules, line 1" in bad.text
    assert api.get(f"/dunning-policies/{policy['id']}").json() == changed


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_only_an_admin_creates_a_policy(staff_factory: Any, api: Any, role: str) -> None:
    staff = staff_factory(role)
    assert staff.post("/admin/paminnelser/policyer", NEW).status_code == 403
    assert by_name(api, "Företagskunder") is None
    if role in ("finance", "read_only"):  # they see the page, without the new policy's form
        page = staff.get("/admin/paminnelser").text
        assert 'action="/admin/paminnelser/policyer"' not in page


def test_a_form_without_the_sessions_csrf_token_is_refused(admin: Staff, staff_factory: Any, api: Any) -> None:
    other = staff_factory("read_only")
    assert admin.post("/admin/paminnelser/policyer", NEW, csrf="").status_code == 403
    assert admin.post("/admin/paminnelser/policyer", NEW, csrf=other.csrf()).status_code == 403
    assert admin.post("/admin/paminnelser/policyer", NEW, headers={"Origin": "https://evil.example"}).status_code == 403
    assert by_name(api, "Företagskunder") is None


def test_another_tenants_admin_neither_sees_nor_changes_the_policy(
    admin: Staff, staff_factory: Any, api: Any, api_b: Any, tenant_b: tuple[int, str]
) -> None:
    assert admin.post("/admin/paminnelser/policyer", NEW).status_code == 303
    mine = by_name(api, "Företagskunder")
    assert mine is not None
    theirs = staff_factory("admin", email="chef@fjallstrom.test", tenant_id=tenant_b[0])
    assert "Företagskunder" not in theirs.get("/admin/paminnelser").text
    assert theirs.post(f"/admin/paminnelser/policyer/{mine['id']}", {**NEW, "priority": "1"}).status_code == 404
    assert api.get(f"/dunning-policies/{mine['id']}").json()["priority"] == 10
    # Their own policy of the same name is theirs alone.
    assert theirs.post("/admin/paminnelser/policyer", NEW).status_code == 303
    assert by_name(api_b, "Företagskunder") is not None
    assert len([p for p in api.get("/dunning-policies").json()["data"] if p["name"] == "Företagskunder"]) == 1
