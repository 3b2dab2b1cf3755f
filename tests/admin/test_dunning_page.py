"""Påminnelser och inkasso: the next tick as the tick itself finds it, who is at which step,
pauses and resumes, payment extensions and policies, through the dunning service; roles, CSRF,
the legal caps, audit rows with before and after, and tenant isolation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from kvitt.admin.models import AuditEntry
from kvitt.core import clock
from kvitt.core.db import READ_ONLY, Database
from tests.admin.conftest import Staff, make_customer

PAST = {"invoice_date": "2026-01-01", "due_date": "2026-01-31"}


def overdue(api: Any, customer_no: str, name: str = "Astrid Lindqvist") -> dict[str, Any]:
    """An invoice long past its due date: the default policy's first reminder is due today."""
    customer = make_customer(api, customer_no, name=name)
    line = {"description": "Mobilabonnemang", "quantity": "1", "unit_price": 31600, "vat_rate": 25}
    draft = api.post("/invoices", {"customer": customer["id"], "lines": [line], **PAST}).json()
    issued = api.post(f"/invoices/{draft['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def section(page: str, anchor: str) -> str:
    return page.split(f'id="{anchor}"', 1)[1].split("<section>", 1)[0]


def audit_rows(db: Database, tenant_id: int, action: str) -> list[AuditEntry]:
    with db.read() as session:
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def test_the_next_tick_and_who_is_at_which_step(admin: Staff, api: Any) -> None:
    first, second = overdue(api, "1001"), overdue(api, "1002", "Bertil Ek")
    page = admin.get("/admin/paminnelser").text
    nxt = section(page, "nasta")
    assert f'/admin/fakturor/{first["id"]}"' in nxt and f'/admin/fakturor/{second["id"]}"' in nxt
    assert "Bertil Ek" in nxt and "<strong>2</strong>" in nxt
    ran = api.post("/dunning/run", {"date": clock.today().isoformat()})
    assert ran.status_code == 200 and ran.json()["reminders"] == 2, ran.text
    page = admin.get("/admin/paminnelser").text
    assert "Inget skickas vid nästa körning." in section(page, "nasta")
    steps = section(page, "steg")
    assert f'/admin/fakturor/{first["id"]}"' in steps and "Steg 1: 2" in steps
    # The next step's day, 14 days after the first reminder (the default policy).
    assert (clock.today() + timedelta(days=14)).isoformat() in steps
    english = admin.get("/admin/paminnelser?lang=en").text
    assert "Who is at which step" in english and "Next run" in english


def test_finance_pauses_an_invoice_and_resumes_it_audited(
    staff_factory: Any, api: Any, db: Database, tenant_a: Any
) -> None:
    finance = staff_factory("finance")
    invoice = overdue(api, "1001")
    answer = finance.post("/admin/paminnelser/paus", {"invoice": str(invoice["number"]), "reason": "Bestridd"})
    assert answer.status_code == 303, answer.text
    (pause,) = api.get("/dunning-pauses").json()["data"]
    assert pause["invoice"] == invoice["id"] and pause["reason"] == "Bestridd" and pause["ended_at"] is None
    page = finance.get("/admin/paminnelser").text
    assert f'/admin/fakturor/{invoice["id"]}"' not in section(page, "nasta")  # the tick skips it
    assert "Bestridd" in section(page, "pauser")
    (paused,) = audit_rows(db, tenant_a[0], "dunning.pause")
    assert paused.before is None and paused.after is not None and paused.after["reason"] == "Bestridd"
    assert paused.target == f"invoice:{invoice['id']}"

    assert finance.post(f"/admin/paminnelser/pauser/{pause['id']}/avsluta").status_code == 303
    assert api.get("/dunning-pauses").json()["data"][0]["ended_at"] is not None
    assert f'/admin/fakturor/{invoice["id"]}"' in section(finance.get("/admin/paminnelser").text, "nasta")
    (resumed,) = audit_rows(db, tenant_a[0], "dunning.resume")
    assert resumed.before is not None and resumed.before["ended_at"] is None
    assert resumed.after is not None and resumed.after["ended_at"] is not None


def test_a_customer_is_paused_by_customer_number(admin: Staff, api: Any) -> None:
    invoice = overdue(api, "K-77")
    assert admin.post("/admin/paminnelser/paus", {"customer": "K-77", "reason": "Dödsbo"}).status_code == 303
    (pause,) = api.get("/dunning-pauses").json()["data"]
    assert pause["customer"] == invoice["customer"] and pause["invoice"] is None
    both = admin.post("/admin/paminnelser/paus", {"customer": "K-77", "invoice": "1", "reason": "x"})
    assert both.status_code == 422
    unknown = admin.post("/admin/paminnelser/paus", {"customer": "finns-inte", "reason": "x"})
    assert unknown.status_code == 422 and len(api.get("/dunning-pauses").json()["data"]) == 1


def upcoming(api: Any, customer_no: str, days: int = 5) -> dict[str, Any]:
    """An invoice due in ``days`` days."""
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}
    customer = make_customer(api, customer_no)
    due = (clock.today() + timedelta(days=days)).isoformat()
    draft = api.post("/invoices", {"customer": customer["id"], "lines": [line], "due_date": due}).json()
    issued = api.post(f"/invoices/{draft['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def test_a_waiting_request_for_an_extension_is_decided(
    staff_factory: Any, api: Any, db: Database, tenant_a: Any
) -> None:
    finance = staff_factory("finance")
    invoice = upcoming(api, "1002")
    until = (date.fromisoformat(invoice["due_date"]) + timedelta(days=30)).isoformat()
    # The recipient's request beyond the automatic 14 days waits for a person.
    waiting = api.post("/payment-extensions", {"invoice": invoice["id"], "until": until})
    assert waiting.status_code == 201 and waiting.json()["state"] == "pending", waiting.text
    assert "Bevilja" in section(finance.get("/admin/paminnelser").text, "anstand")
    decided = finance.post(f"/admin/paminnelser/anstand/{waiting.json()['id']}/beslut", {"decision": "approve"})
    assert decided.status_code == 303, decided.text
    (row,) = api.get("/payment-extensions").json()["data"]
    assert row["state"] == "approved"
    (audited,) = audit_rows(db, tenant_a[0], "dunning.decide_extension")
    assert audited.before == {"extension": row["id"], "state": "pending"}
    assert audited.after is not None and audited.after["state"] == "approved"
    again = finance.post(f"/admin/paminnelser/anstand/{row['id']}/beslut", {"decision": "reject"})
    assert again.status_code == 422 and api.get("/payment-extensions").json()["data"] == [row]


def test_a_staff_extension_by_invoice_number(admin: Staff, api: Any, db: Database, tenant_a: Any) -> None:
    invoice = upcoming(api, "1003")
    until = (date.fromisoformat(invoice["due_date"]) + timedelta(days=30)).isoformat()
    answer = admin.post("/admin/paminnelser/anstand", {"invoice": str(invoice["number"]), "until": until})
    assert answer.status_code == 303, answer.text
    (row,) = api.get("/payment-extensions").json()["data"]
    assert (row["invoice"], row["until"], row["state"]) == (invoice["id"], until, "approved")
    (audited,) = audit_rows(db, tenant_a[0], "dunning.payment_extension")
    assert audited.after is not None and audited.after["state"] == "approved"
    # The service's own limit: at most 60 days after the due date.
    late = (date.fromisoformat(invoice["due_date"]) + timedelta(days=61)).isoformat()
    other = upcoming(api, "1004")
    refused = admin.post("/admin/paminnelser/anstand", {"invoice": str(other["number"]), "until": late})
    assert refused.status_code == 422 and "60 days" in refused.text


def _default_policy(api: Any) -> dict[str, Any]:
    (policy,) = api.get("/dunning-policies").json()["data"]
    return dict(policy)


def _policy_form(policy: dict[str, Any], **changes: str) -> dict[str, str]:
    form = {"name": policy["name"]}
    for i, step in enumerate(policy["steps"]):
        form |= {
            f"days_{i}": str(step["days"]),
            f"after_{i}": step["after"],
            f"action_{i}": step["action"],
            f"fee_{i}": "" if step["fee"] is None else str(step["fee"] / 100),
            f"interest_{i}": "",
            f"channel_{i}": step["channel"] or "",
            f"due_days_{i}": str(step["due_days"]),
        }
    return form | changes


def test_an_admin_edits_the_policys_steps_within_the_legal_caps(
    admin: Staff, api: Any, db: Database, tenant_a: Any
) -> None:
    policy = _default_policy(api)
    url = f"/admin/paminnelser/policyer/{policy['id']}"
    form = _policy_form(policy, days_0="5", fee_0="50", days_2="30", action_2="collection", fee_2="180")
    assert admin.post(url, form).status_code == 303
    steps = api.get(f"/dunning-policies/{policy['id']}").json()["steps"]
    assert [(s["days"], s["action"], s["fee"]) for s in steps] == [
        (5, "reminder", 5000),
        (14, "reminder", None),
        (30, "collection", 18000),
    ]
    (audited,) = audit_rows(db, tenant_a[0], "dunning.policy_update")
    assert audited.before is not None and audited.after is not None
    assert [s["days"] for s in audited.before["steps"]] == [7, 14]
    assert [s["days"] for s in audited.after["steps"]] == [5, 14, 30]

    over = admin.post(url, {**form, "fee_0": "60,01"})
    assert over.status_code == 422 and "1981:739" in over.text and "60 kr" in over.text
    collection = admin.post(url, {**form, "fee_2": "200"})
    assert collection.status_code == 422 and "1981:1057" in collection.text
    assert api.get(f"/dunning-policies/{policy['id']}").json()["steps"] == steps
    assert len(audit_rows(db, tenant_a[0], "dunning.policy_update")) == 1
    # A step without days is removed; the service keeps the hand-over last.
    assert admin.post(url, {**form, "days_1": ""}).status_code == 303
    assert [s["days"] for s in api.get(f"/dunning-policies/{policy['id']}").json()["steps"]] == [5, 30]


@pytest.mark.parametrize("role", ["finance", "support", "marketing", "read_only"])
def test_roles_are_checked_on_the_server(staff_factory: Any, api: Any, role: str) -> None:
    staff = staff_factory(role)
    invoice = overdue(api, "1001")
    policy = _default_policy(api)
    pause = api.post("/dunning-pauses", {"invoice": invoice["id"], "reason": "API"}).json()
    acting = {
        "/admin/paminnelser/paus": {"invoice": str(invoice["number"]), "reason": "x"},
        f"/admin/paminnelser/pauser/{pause['id']}/avsluta": {},
        "/admin/paminnelser/anstand": {"invoice": str(invoice["number"]), "until": "2026-03-01"},
    }
    for path, form in acting.items():
        answer = staff.post(path, form)
        assert (answer.status_code != 403) == (role == "finance"), (role, path, answer.status_code)
    # Only an admin edits a policy.
    assert (
        staff.post(f"/admin/paminnelser/policyer/{policy['id']}", _policy_form(policy, days_0="1")).status_code == 403
    )
    assert api.get(f"/dunning-policies/{policy['id']}").json()["steps"] == policy["steps"]
    if role != "finance":
        assert api.get("/dunning-pauses").json()["data"][0]["ended_at"] is None
        assert len(api.get("/dunning-pauses").json()["data"]) == 1


def test_a_form_without_the_sessions_csrf_token_is_refused(admin: Staff, api: Any) -> None:
    invoice = overdue(api, "1001")
    policy = _default_policy(api)
    pause = api.post("/dunning-pauses", {"invoice": invoice["id"], "reason": "API"}).json()
    forms = {
        "/admin/paminnelser/paus": {"invoice": str(invoice["number"]), "reason": "x"},
        f"/admin/paminnelser/pauser/{pause['id']}/avsluta": {},
        "/admin/paminnelser/anstand": {"invoice": str(invoice["number"]), "until": "2026-03-01"},
        f"/admin/paminnelser/policyer/{policy['id']}": _policy_form(policy, days_0="1"),
    }
    for path, form in forms.items():
        assert admin.post(path, form, csrf="").status_code == 403, path
        assert admin.post(path, form, headers={"Origin": "https://evil.example"}).status_code == 403, path
    assert api.get("/dunning-pauses").json()["data"] == [pause]
    assert api.get("/payment-extensions").json()["data"] == []
    assert api.get(f"/dunning-policies/{policy['id']}").json()["steps"] == policy["steps"]


def test_another_tenants_dunning_is_neither_shown_nor_changed(admin: Staff, api: Any, api_b: Any) -> None:
    theirs = overdue(api_b, "B-1", "Gunnar Fjäll")
    api_b.post("/dunning-policies", {"name": "Fjällströms policy", "steps": [{"days": 3, "after": "due"}]})
    api_b.post("/dunning-pauses", {"customer": theirs["customer"], "reason": "B:s paus"})
    page = admin.get("/admin/paminnelser").text
    assert "Gunnar Fjäll" not in page and "Fjällströms policy" not in page and "B:s paus" not in page
    before = api_b.get("/dunning-pauses").json(), api_b.get("/payment-extensions").json()
    # A's own invoice numbers do not reach B's invoices: A has none open.
    refused = admin.post("/admin/paminnelser/paus", {"invoice": str(theirs["number"]), "reason": "x"})
    assert refused.status_code == 422
    refused = admin.post("/admin/paminnelser/anstand", {"invoice": str(theirs["number"]), "until": "2026-03-01"})
    assert refused.status_code == 422
    assert admin.post("/admin/paminnelser/paus", {"customer": "B-1", "reason": "x"}).status_code == 422
    assert (api_b.get("/dunning-pauses").json(), api_b.get("/payment-extensions").json()) == before
    assert api.get("/dunning-pauses").json()["data"] == []


def test_a_look_writes_nothing_and_holds_no_write_lock(admin: Staff, api: Any, db: Database) -> None:
    """The page reads in a read-only unit of work (no BEGIN IMMEDIATE on SQLite, a READ ONLY
    transaction on PostgreSQL): every statement of the look runs on a read-only connection."""
    invoice = overdue(api, "1001")
    admin.get("/admin/paminnelser")  # the tenant's first look makes its default policy
    statements: list[tuple[str, bool]] = []

    def seen(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append((statement, bool(conn.get_execution_options().get(READ_ONLY))))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        page = admin.get("/admin/paminnelser")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert page.status_code == 200
    assert f'/admin/fakturor/{invoice["id"]}"' in section(page.text, "nasta")
    assert statements and all(read_only for _, read_only in statements)
    # Reads, and on PostgreSQL the finding query's "SET LOCAL jit = off" (for this transaction only).
    assert all(sql.lstrip().upper().startswith(("SELECT", "WITH", "SET LOCAL JIT")) for sql, _ in statements)
