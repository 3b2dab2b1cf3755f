"""Event chains through the API and the worker: rules as data, fired once per event, recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update

from kvitt.automation import service
from kvitt.automation.models import AutomationFiring
from kvitt.core.config import Settings
from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import PENDING, OutboxJob
from kvitt.invoices.timeline import DOMAIN_EVENT_JOB
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.webhooks.helpers import created, issue_invoice, make_due, pending_jobs, run_worker
from tests.webhooks.receiver import running

TAG_COMPANIES = {
    "name": "Tagga företag",
    "trigger": "invoice.issued",
    "conditions": [{"field": "customer.type", "op": "eq", "value": "company"}],
    "actions": [{"type": "add_tag", "tag": "b2b"}],
}


def rule(api: Api, **fields: Any) -> dict[str, Any]:
    return created(api.post("/automation-rules", {**TAG_COMPANIES, **fields}))


def firings(api: Api, rule_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/automation-rules/{rule_id}/firings", params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def customer_of(api: Api, invoice: dict[str, Any]) -> dict[str, Any]:
    return dict(api.get(f"/customers/{invoice['customer']}").json())


def refused(response: Any, param: str) -> str:
    assert response.status_code in (404, 422), response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    return str(error["message"])


# --- managing rules ------------------------------------------------------------------------------


def test_rules_are_managed_through_the_api(api: Api) -> None:
    made = rule(api, trigger="reminder.sent", wait={"days": 3})
    assert made["trigger"] == "invoice.reminder_sent"  # the alias is stored as the published type
    assert made["wait"] == {"days": 3, "hours": 0, "minutes": 0} and made["enabled"] is True
    assert api.get(f"/automation-rules/{made['id']}").json() == made
    assert [r["id"] for r in api.get("/automation-rules").json()["data"]] == [made["id"]]
    off = api.post(f"/automation-rules/{made['id']}/disable").json()
    assert off["enabled"] is False
    assert api.post(f"/automation-rules/{made['id']}/enable").json()["enabled"] is True
    changed = api.patch(f"/automation-rules/{made['id']}", {"name": "Ny", "wait": None}).json()
    assert changed["name"] == "Ny" and changed["wait"] is None and changed["actions"] == made["actions"]
    assert api.delete(f"/automation-rules/{made['id']}").json()["deleted"] is True
    assert api.get(f"/automation-rules/{made['id']}").status_code == 404


def test_unknown_events_actions_and_conditions_are_refused(api: Api) -> None:
    assert "unknown event type" in refused(
        api.post("/automation-rules", {**TAG_COMPANIES, "trigger": "x.y"}), "trigger"
    )
    bad_action = {**TAG_COMPANIES, "actions": [{"type": "rm_rf", "path": "/"}]}
    assert "rm_rf" in refused(api.post("/automation-rules", bad_action), "actions[0]")
    no_actions = {**TAG_COMPANIES, "actions": []}
    refused(api.post("/automation-rules", no_actions), "actions")
    bad_field = {**TAG_COMPANIES, "conditions": [{"field": "customer.__dict__", "op": "eq", "value": 1}]}
    assert "unknown field" in refused(api.post("/automation-rules", bad_field), "conditions[0]")
    bad_op = {**TAG_COMPANIES, "conditions": [{"field": "invoice.total", "op": "eval", "value": 1}]}
    assert "unknown operator" in refused(api.post("/automation-rules", bad_op), "conditions[0]")
    bad_channel = {**TAG_COMPANIES, "actions": [{"type": "send", "channel": "pigeon"}]}
    refused(api.post("/automation-rules", bad_channel), "actions[0].send.channel")
    no_endpoint = {**TAG_COMPANIES, "actions": [{"type": "webhook", "endpoint": 4711}]}
    response = api.post("/automation-rules", no_endpoint)
    assert response.status_code == 404 and refused(response, "actions[0].endpoint")
    assert api.get("/automation-rules").json()["data"] == []


# --- firing ---------------------------------------------------------------------------------------


def test_a_rule_fires_when_its_conditions_hold_once_per_event(api: Api, db: Database, settings: Settings) -> None:
    made = rule(api)
    company = issue_invoice(api, "1", type="company", id_number="556036-0793")
    person = issue_invoice(api, "2")
    run_worker(db, settings)
    assert customer_of(api, company)["attributes"]["tags"] == ["b2b"]
    assert "tags" not in customer_of(api, person)["attributes"]
    (firing,) = firings(api, made["id"])
    assert firing["state"] == "done" and firing["invoice"] == company["id"] and firing["event_type"] == "invoice.issued"
    assert firing["results"] == [{"type": "add_tag", "customer": company["customer"], "tag": "b2b", "changed": True}]

    # The event's job runs again (a lost lease): the rule does not fire a second time.
    with db.transaction() as session:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.kind == DOMAIN_EVENT_JOB)
            .values(state=PENDING, run_at=utcnow(), attempts=0, locked_by=None)
        )
    run_worker(db, settings)
    assert len(firings(api, made["id"])) == 1


def test_a_disabled_rule_does_not_fire(api: Api, db: Database, settings: Settings) -> None:
    made = rule(api, enabled=False)
    company = issue_invoice(api, "1", type="company", id_number="556036-0793")
    run_worker(db, settings)
    assert firings(api, made["id"]) == [] and "tags" not in customer_of(api, company)["attributes"]


def test_three_days_later_if_still_unpaid(api: Api, db: Database, settings: Settings) -> None:
    made = rule(
        api,
        conditions=[{"field": "invoice.state", "op": "in", "value": ["unpaid", "partly_paid", "overdue"]}],
        actions=[{"type": "add_tag", "tag": "slow_payer"}],
        wait={"days": 3},
    )
    unpaid = issue_invoice(api, "1")
    paid = issue_invoice(api, "2")
    run_worker(db, settings)
    waiting = firings(api, made["id"])
    assert {f["state"] for f in waiting} == {"waiting"} and len(waiting) == 2
    assert all(f["run_at"] > f["created_at"] for f in waiting)
    assert len(pending_jobs(db, service.RUN_JOB)) == 2  # nothing happens before the three days
    assert api.post(f"/invoices/{paid['id']}/payments", {"amount": paid["total"]}).status_code == 200

    assert make_due(db, service.RUN_JOB) == 2  # three days pass
    run_worker(db, settings)
    by_invoice = {f["invoice"]: f for f in firings(api, made["id"])}
    assert by_invoice[unpaid["id"]]["state"] == "done"
    assert by_invoice[paid["id"]]["state"] == "skipped"
    assert "no longer held" in by_invoice[paid["id"]]["error"]
    assert customer_of(api, unpaid)["attributes"]["tags"] == ["slow_payer"]
    assert "tags" not in customer_of(api, paid)["attributes"]


def test_a_failing_action_undoes_the_firings_other_actions_and_is_recorded(
    api: Api, db: Database, settings: Settings
) -> None:
    made = rule(api, conditions=[], actions=[{"type": "add_tag", "tag": "x"}, {"type": "send", "channel": "sms"}])
    invoice = issue_invoice(api, "1")  # the customer has no phone number
    run_worker(db, settings)
    (firing,) = firings(api, made["id"])
    assert firing["state"] == "failed" and firing["error"].startswith("actions[1] (send): ")
    assert "tags" not in customer_of(api, invoice)["attributes"]


def test_tags_are_added_and_removed(api: Api, db: Database, settings: Settings) -> None:
    rule(api, conditions=[], actions=[{"type": "add_tag", "tag": "late"}, {"type": "add_tag", "tag": "vip"}])
    rule(api, trigger="invoice.paid", conditions=[], actions=[{"type": "remove_tag", "tag": "late"}])
    invoice = issue_invoice(api, "1")
    run_worker(db, settings)
    assert customer_of(api, invoice)["attributes"]["tags"] == ["late", "vip"]
    api.post(f"/invoices/{invoice['id']}/payments", {"amount": invoice["total"]})
    run_worker(db, settings)
    assert customer_of(api, invoice)["attributes"]["tags"] == ["vip"]


def test_a_message_and_a_staff_email(api: Api, db: Database, settings: Settings) -> None:
    assert api.patch("/tenant", {"email": "ekonomi@norrsken.se"}).status_code == 200
    rule(
        api,
        conditions=[{"field": "invoice.total", "op": "gte", "value": 10000}],
        actions=[
            {"type": "message", "text": "Tack! Faktura {{ invoice.number }} är skickad."},
            {"type": "notify_staff", "subject": "Stor faktura {{ invoice.number }}", "text": "{{ customer.name }}"},
        ],
    )
    invoice = issue_invoice(api, "1")
    run_worker(db, settings)
    events = api.get(f"/invoices/{invoice['id']}/events").json()["data"]
    texts = [json.dumps(e["data"], ensure_ascii=False) for e in events if e["type"].startswith("message")]
    assert any(f"Tack! Faktura {invoice['number']} är skickad." in t for t in texts), events
    with db.transaction() as session:
        staff = [j.payload for j in session.scalars(select(OutboxJob).where(OutboxJob.kind == "delivery.staff_email"))]
    assert [(p["to"], p["subject"], p["text"]) for p in staff] == [
        ("ekonomi@norrsken.se", f"Stor faktura {invoice['number']}", "Astrid Lindqvist")
    ]


def test_a_webhook_action_sends_the_event_to_the_endpoint(api: Api, db: Database, settings: Settings) -> None:
    from kvitt.webhooks.signing import verify

    with running() as receiver:
        # The endpoint itself subscribes to nothing that happens here; the rule sends to it.
        hook = created(api.post("/webhook-endpoints", {"url": receiver.url, "events": ["invoice.written_off"]}))
        made = rule(api, conditions=[], actions=[{"type": "webhook", "endpoint": hook["id"]}])
        invoice = issue_invoice(api, "1")
        run_worker(db, settings)
    (request,) = receiver.requests
    event = verify(request.body, request.headers["Kvitt-Signature"], hook["secret"])
    assert event["type"] == "invoice.issued" and event["data"]["object"]["id"] == invoice["id"]
    assert event["data"]["rule"] == {"id": made["id"], "name": made["name"]}


def test_a_rule_that_keeps_firing_on_one_invoice_is_stopped(api: Api, db: Database) -> None:
    made = rule(api, conditions=[])
    invoice = issue_invoice(api, "1")
    event = {"type": "invoice.issued", "invoice_id": invoice["id"], "data": {}}
    with db.transaction() as session:
        tenant = session.get(Tenant, api.tenant_id)
        assert tenant is not None
        for _ in range(service.LOOP_LIMIT + 2):
            service.on_event(session, tenant, dict(event))  # each a new event (no job id)
    states = [f["state"] for f in reversed(firings(api, made["id"]))]
    assert states == ["waiting"] * service.LOOP_LIMIT + ["skipped"] * 2


def test_a_firing_of_a_rule_switched_off_meanwhile_is_skipped(api: Api, db: Database, settings: Settings) -> None:
    made = rule(api, conditions=[], wait={"hours": 1})
    issue_invoice(api, "1")
    run_worker(db, settings)
    api.post(f"/automation-rules/{made['id']}/disable")
    make_due(db, service.RUN_JOB)
    run_worker(db, settings)
    (firing,) = firings(api, made["id"])
    assert firing["state"] == "skipped" and "switched off" in firing["error"]
    with db.transaction() as session:
        assert session.scalar(select(AutomationFiring.state)) == "skipped"


@pytest.mark.parametrize("scope", ["invoice", "customer"])
def test_pause_dunning(api: Api, db: Database, settings: Settings, scope: str) -> None:
    """Through kvitt.dunning.service.pause (the dunning helper's contract)."""
    made = rule(api, conditions=[], actions=[{"type": "pause_dunning", "scope": scope, "days": 14, "reason": "tvist"}])
    invoice = issue_invoice(api, "1")
    run_worker(db, settings)
    (firing,) = firings(api, made["id"])
    assert firing["state"] == "done", firing["error"]
    assert firing["results"][0][scope] == (invoice["id"] if scope == "invoice" else invoice["customer"])
    result = firing["results"][0]
    (paused,) = api.get("/dunning-pauses").json()["data"]
    assert paused["id"] == result["pause"] and paused["until"] == result["until"] and paused["active"]
    assert paused["reason"] == f"tvist (rule {made['id']})" and paused["actor"] == f"automation:{made['id']}"
    assert (paused["invoice"], paused["customer"]) == (
        (invoice["id"], None) if scope == "invoice" else (None, invoice["customer"])
    )


def test_a_wait_follows_a_test_tenants_clock(api: Api, db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, api.tenant_id)
        assert tenant is not None
        tenant.is_test = True
    assert api.post("/test-clock/advance", {"start": "2026-01-01", "to": "2026-01-02"}).status_code == 200
    made = rule(
        api,
        conditions=[{"field": "invoice.state", "op": "in", "value": ["unpaid", "partly_paid", "overdue"]}],
        actions=[{"type": "add_tag", "tag": "slow_payer"}],
        wait={"days": 3},
    )
    unpaid, paid = issue_invoice(api, "1"), issue_invoice(api, "2")
    run_worker(db, settings)
    with db.transaction() as session:
        assert {str(d) for d in session.scalars(select(AutomationFiring.due_on))} == {"2026-01-05"}
    api.post(f"/invoices/{paid['id']}/payments", {"amount": paid["total"]})

    assert api.post("/test-clock/advance", {"to": "2026-01-04"}).status_code == 200
    assert {f["state"] for f in firings(api, made["id"])} == {"waiting"}
    assert api.post("/test-clock/advance", {"to": "2026-01-05"}).status_code == 200
    by_invoice = {f["invoice"]: f["state"] for f in firings(api, made["id"])}
    assert by_invoice == {unpaid["id"]: "done", paid["id"]: "skipped"}
    assert customer_of(api, unpaid)["attributes"]["tags"] == ["slow_payer"]
