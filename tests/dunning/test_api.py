"""Dunning through the API: policies and their legal limits, extensions, plans, rates, the CLI, the daily job."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from kvitt.core.clock import daily_jobs
from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob, handler_for
from kvitt.dunning.jobs import TICK_JOB
from kvitt.dunning.models import Reminder
from tests.conftest import Api


def _issued(api: Api, no: str, **dates: Any) -> dict[str, Any]:
    customer = api.post("/customers", {"customer_no": no, "name": f"Kund {no}"}).json()
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 40000, "vat_rate": 25}
    draft = api.post("/invoices", {"customer": customer["id"], "lines": [line], **dates}).json()
    return dict(api.post(f"/invoices/{draft['id']}/issue").json())


def test_a_new_tenant_has_the_default_policy(api: Api) -> None:
    (policy,) = api.get("/dunning-policies").json()["data"]
    assert policy["is_default"] and policy["rules"] == []
    assert [(s["days"], s["after"], s["action"], s["fee"]) for s in policy["steps"]] == [
        (7, "due", "reminder", None),
        (14, "previous", "reminder", None),
    ]
    assert api.delete(f"/dunning-policies/{policy['id']}").json()["error"]["code"] == "default_policy"


def test_a_reminder_fee_above_60_kr_is_refused_naming_the_law(api: Api) -> None:
    """Lag (1981:739) 2 § / förordning (1981:1057) 2 §: at most 60 kr per reminder."""
    body = {"name": "Hård", "steps": [{"days": 5, "after": "due", "fee": 6001}]}
    error = api.post("/dunning-policies", body).json()["error"]
    assert error["code"] == "fee_above_legal_cap" and error["param"] == "steps[0].fee"
    assert "1981:739" in error["message"] and "60 kr" in error["message"]
    ok = api.post("/dunning-policies", {"name": "Hård", "steps": [{"days": 5, "after": "due", "fee": 6000}]})
    assert ok.status_code == 201
    patch = api.patch(f"/dunning-policies/{ok.json()['id']}", {"steps": [{"days": 5, "fee": 9900}]})
    assert patch.json()["error"]["code"] == "fee_above_legal_cap"


def test_a_collection_fee_above_180_kr_is_refused(api: Api) -> None:
    """Förordning (1981:1057) 2 §: inkassokrav at most 180 kr."""
    steps = [{"days": 5, "after": "due"}, {"days": 10, "action": "collection", "fee": 20000}]
    error = api.post("/dunning-policies", {"name": "Inkasso", "steps": steps}).json()["error"]
    assert error["param"] == "steps[1].fee" and "1981:1057" in error["message"]


def test_bad_rules_and_steps_are_refused(api: Api) -> None:
    bad_field = {"name": "X", "rules": [{"field": "os.system", "value": "x"}], "steps": [{"days": 1}]}
    assert api.post("/dunning-policies", bad_field).status_code == 422
    bad_op = {"name": "X", "rules": [{"field": "type", "op": "in", "value": "company"}], "steps": [{"days": 1}]}
    assert api.post("/dunning-policies", bad_op).status_code == 422
    # "ne" with a list once passed the check (a chained comparison) and broke the tick's SQL.
    for op, value in (("ne", [1, 2]), ("eq", ["a"]), ("in", ["a", 1])):
        rule = {"field": "attributes.n", "op": op, "value": value}
        refused = api.post("/dunning-policies", {"name": "X", "rules": [rule], "steps": [{"days": 1}]})
        assert refused.status_code == 422, (op, value)
        assert refused.json()["error"]["param"].startswith("rules"), refused.json()
    early = {"name": "X", "steps": [{"days": 1, "action": "collection"}, {"days": 2}]}
    assert api.post("/dunning-policies", early).json()["error"]["param"] == "steps"


def test_segment_rules_pick_the_policy(api: Api) -> None:
    """VIP customers (attributes.segment) get their gentle policy, others the default."""
    vip_steps = [{"days": 20, "after": "due", "fee": 0}]
    rules = [{"field": "attributes.segment", "op": "eq", "value": "vip"}]
    vip_policy = api.post(
        "/dunning-policies", {"name": "VIP", "priority": 1, "rules": rules, "steps": vip_steps}
    ).json()
    dates = {"invoice_date": "2026-01-01", "due_date": "2026-01-31"}
    plain = _issued(api, "P", **dates)
    vip_customer = api.post("/customers", {"customer_no": "V", "name": "V", "attributes": {"segment": "vip"}}).json()
    line = {"description": "x", "quantity": "1", "unit_price": 100, "vat_rate": 25}
    draft = api.post("/invoices", {"customer": vip_customer["id"], "lines": [line], **dates}).json()
    vip = api.post(f"/invoices/{draft['id']}/issue").json()
    api.post("/dunning/run", {"date": "2026-02-07"})
    assert [r["invoice"] for r in api.get("/reminders").json()["data"]] == [plain["id"]]
    api.post("/dunning/run", {"date": "2026-02-20"})
    (reminder,) = api.get("/reminders", params={"invoice": vip["id"]}).json()["data"]
    assert reminder["policy"] == vip_policy["id"] and reminder["total_due"] == vip["total"]


def test_a_long_extension_waits_for_a_person(api: Api) -> None:
    invoice = _issued(api, "E1", invoice_date="2026-01-01", due_date="2026-01-31")
    ext = api.post("/payment-extensions", {"invoice": invoice["id"], "until": "2099-01-01"})
    assert ext.json()["error"]["param"] == "until"  # beyond the tenant's maximum
    assert api.patch("/dunning-settings", {"extension_max_days": 365}).status_code == 200
    long = api.post("/payment-extensions", {"invoice": invoice["id"], "until": "2027-01-20"}).json()
    assert long["state"] == "pending"  # more than the 14 days a rule may grant: a person decides
    assert api.post(f"/payment-extensions/{long['id']}/reject", {"reason": "nej"}).json()["state"] == "rejected"
    again = api.post("/payment-extensions", {"invoice": invoice["id"], "until": _in_days(10)}).json()
    approved = api.post(f"/payment-extensions/{again['id']}/approve").json()
    assert (approved["state"], approved["decided_by"]) == ("approved", "api")
    assert api.post(f"/payment-extensions/{again['id']}/approve").json()["error"]["code"] == "invalid_state"
    events = [e["type"] for e in api.get(f"/invoices/{invoice['id']}/events").json()["data"]]
    assert events.count("extension_requested") == 2 and "extension_rejected" in events


def _in_days(days: int) -> str:
    from datetime import timedelta

    from kvitt.core import clock

    return (clock.today() + timedelta(days=days)).isoformat()


def test_an_approved_extension_delays_the_first_reminder(api: Api, db: Database) -> None:
    from kvitt.dunning import service
    from tests.dunning.helpers import load

    invoice = _issued(api, "E2", invoice_date="2026-01-01", due_date="2026-01-31")
    with db.transaction() as session:
        ext = service.request_extension(
            session, api.tenant_id, invoice["id"], until=date(2026, 2, 10), reason="lön", today=date(2026, 1, 30)
        )
        assert ext.state == "approved" and ext.decided_by == "rule"  # 10 days ≤ 14
    api.post("/dunning/run", {"date": "2026-02-07"})  # would be reminder 1 without the extension
    assert api.get("/reminders").json()["data"] == []
    api.post("/dunning/run", {"date": "2026-02-17"})  # 7 days after the extension's date
    assert len(api.get("/reminders").json()["data"]) == 1
    with db.transaction() as session:
        assert load(session, api.tenant_id)


def test_an_instalment_plan_fee_above_170_kr_is_refused_and_a_plan_holds_off_dunning(api: Api) -> None:
    """Förordning (1981:1057) 2 §: at most 170 kr for an instalment plan."""
    invoice = _issued(api, "I1", due_date="2099-01-31")
    body = {"invoice": invoice["id"], "parts": 3, "first_due_date": "2099-02-28", "fee": 17001}
    error = api.post("/instalment-plans", body).json()["error"]
    assert error["param"] == "fee" and "170 kr" in error["message"]
    plan = api.post("/instalment-plans", {**body, "fee": 17000}).json()
    assert sum(p["amount"] for p in plan["parts"]) == invoice["total"] and len(plan["parts"]) == 3
    charge = api.get(f"/invoices/{plan['charge_invoice']}").json()
    assert charge["total"] == 17000 and charge["lines"][0]["account"] == "3990"
    assert api.post("/dunning/run", {"date": "2099-03-15"}).json()["plans_broken"] == 1  # first part not paid


def test_reference_rates_are_listed_with_the_late_interest_rate(api: Api) -> None:
    """Räntelagen 6 §: late interest = reference rate + 8 percentage points."""
    rates = {r["valid_from"]: r for r in api.get("/reference-rates").json()["data"]}
    assert rates["2024-07-01"]["rate_bp"] == 400 and rates["2024-07-01"]["late_interest_bp"] == 1200
    assert rates["2023-01-01"]["rate_bp"] == 250


def test_the_cli_runs_the_tick_once_and_keeps_the_rates(api: Api, db: Database, cli_env: str) -> None:
    from kvitt.cli import app

    _issued(api, "C1", invoice_date="2026-01-01", due_date="2026-01-31")
    runner = CliRunner()
    first = runner.invoke(app, ["dunning", "run", "--date", "2026-02-07"])
    assert first.exit_code == 0 and "1 reminders" in first.output
    again = runner.invoke(app, ["dunning", "run", "--date", "2026-02-07"])
    assert "0 reminders" in again.output
    assert runner.invoke(app, ["dunning", "run", "--date", "2026-13-01"]).exit_code == 2
    assert runner.invoke(app, ["dunning", "rates", "set", "2026-07-01", "1,75", "--source", "test"]).exit_code == 0
    assert runner.invoke(app, ["dunning", "rates", "set", "2026-08-01", "1.75"]).exit_code == 1
    listed = runner.invoke(app, ["dunning", "rates"])
    assert "2026-07-01" in listed.output and "9.75 %" in listed.output


def test_the_daily_job_takes_its_date_from_the_payload(api: Api, db: Database) -> None:
    assert TICK_JOB in daily_jobs()
    _issued(api, "D1", invoice_date="2026-01-01", due_date="2026-01-31")
    handler = handler_for(TICK_JOB)
    assert handler is not None
    with db.transaction() as session:
        handler(session, OutboxJob(tenant_id=api.tenant_id, kind=TICK_JOB, payload={"date": "2026-02-06"}))
        assert session.scalars(select(Reminder)).all() == []
        handler(session, OutboxJob(tenant_id=api.tenant_id, kind=TICK_JOB, payload={"date": "2026-02-07"}))
        assert [r.sent_on for r in session.scalars(select(Reminder))] == [date(2026, 2, 7)]


def test_a_number_rule_skips_customers_whose_attribute_is_text(api: Api) -> None:
    """A rule "attributes.lines gt 2" must not break the tick for a customer with lines = "many"."""
    rules = [{"field": "attributes.lines", "op": "gt", "value": 2}]
    big = api.post(
        "/dunning-policies", {"name": "Stor", "priority": 1, "rules": rules, "steps": [{"days": 1, "after": "due"}]}
    ).json()
    dates = {"invoice_date": "2026-01-01", "due_date": "2026-01-31"}
    by_no = {}
    for no, lines in (("T", "many"), ("N", 5), ("S", 1)):
        customer = api.post("/customers", {"customer_no": no, "name": no, "attributes": {"lines": lines}}).json()
        line = {"description": "x", "quantity": "1", "unit_price": 100, "vat_rate": 25}
        draft = api.post("/invoices", {"customer": customer["id"], "lines": [line], **dates}).json()
        by_no[no] = api.post(f"/invoices/{draft['id']}/issue").json()["id"]
    response = api.post("/dunning/run", {"date": "2026-02-02"})
    assert response.status_code == 200, response.text
    policies = {r["invoice"]: r["policy"] for r in api.get("/reminders").json()["data"]}
    assert policies == {by_no["N"]: big["id"]}  # T and S wait for the default policy's 7 days
