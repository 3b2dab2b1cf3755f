"""The two event chains Kvitt ships, end to end through the real delivery and messages modules."""

from __future__ import annotations

from typing import Any

from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.core.outbox import enqueue
from kvitt.invoices.timeline import DOMAIN_EVENT_JOB
from tests.conftest import Api
from tests.loopback import Mailbox
from tests.webhooks.helpers import created, issue_invoice, run_worker

ADDRESS = {"address_line1": "Storgatan 1", "postal_code": "972 31", "city": "Luleå"}


def install(api: Api, name: str) -> dict[str, Any]:
    return created(api.post("/automation-rules/templates", {"template": name}))


def deliveries(api: Api, invoice_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/invoices/{invoice_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def firings(api: Api, rule_id: int) -> list[dict[str, Any]]:
    return list(api.get(f"/automation-rules/{rule_id}/firings").json()["data"])


def autogiro_failed(db: Database, tenant_id: int, invoice_id: int) -> None:
    """What the autogiro feature publishes when a debit is refused (the domain-event contract)."""
    with db.transaction() as session:
        payload = {"type": "autogiro.failed", "invoice_id": invoice_id, "data": {"code": "insufficient_funds"}}
        enqueue(session, DOMAIN_EVENT_JOB, payload, tenant_id=tenant_id)


def test_templates_are_listed_installed_switched_off_and_only_once(api: Api) -> None:
    listed = {t["name"]: t for t in api.get("/automation-rules/templates").json()["data"]}
    assert set(listed) == {"autogiro_failed_swish", "email_failed_letter"}
    assert all(t["installed"] is None for t in listed.values())
    rule = install(api, "email_failed_letter")
    assert rule["enabled"] is False and rule["template"] == "email_failed_letter"
    again = api.post("/automation-rules/templates", {"template": "email_failed_letter"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "template_installed"
    listed = {t["name"]: t for t in api.get("/automation-rules/templates").json()["data"]}
    assert listed["email_failed_letter"]["installed"] == rule["id"]
    unknown = api.post("/automation-rules/templates", {"template": "mine_bitcoin"})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "template"


def test_failed_autogiro_sends_a_digital_invoice_suggesting_swish(api: Api, db: Database, settings: Settings) -> None:
    rule = install(api, "autogiro_failed_swish")
    invoice = issue_invoice(api, "1", delivery_method="letter", **ADDRESS)
    run_worker(db, settings)
    before = {d["id"] for d in deliveries(api, invoice["id"])}

    autogiro_failed(db, api.tenant_id, invoice["id"])  # switched off: nothing happens
    run_worker(db, settings)
    assert firings(api, rule["id"]) == [] and {d["id"] for d in deliveries(api, invoice["id"])} == before

    api.post(f"/automation-rules/{rule['id']}/enable")
    autogiro_failed(db, api.tenant_id, invoice["id"])
    run_worker(db, settings)
    (firing,) = firings(api, rule["id"])
    assert firing["state"] == "done", firing["error"]
    new = [d for d in deliveries(api, invoice["id"]) if d["id"] not in before]
    assert [(d["channel"], d["reason"]) for d in new] == [("email", "resend")]
    events = api.get(f"/invoices/{invoice['id']}/events").json()["data"]
    messages = [e for e in events if e["type"].startswith("message")]
    assert len(messages) == 1 and "Swish" in str(messages[0]["data"]) and str(invoice["number"]) in str(messages[0])


def test_a_paid_invoice_gets_no_swish_suggestion(api: Api, db: Database, settings: Settings) -> None:
    rule = install(api, "autogiro_failed_swish")
    api.post(f"/automation-rules/{rule['id']}/enable")
    invoice = issue_invoice(api, "1")
    api.post(f"/invoices/{invoice['id']}/payments", {"amount": invoice["total"]})
    autogiro_failed(db, api.tenant_id, invoice["id"])
    run_worker(db, settings)
    assert firings(api, rule["id"]) == []


def test_a_bounced_email_is_sent_as_a_letter(
    api: Api, db: Database, settings: Settings, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    # The rule replaces the delivery module's own fallback (email → letter), not adds to it.
    settings_response = api.patch("/delivery/settings", {"fallback": {"email": []}})
    assert settings_response.status_code == 200, settings_response.text
    rule = install(api, "email_failed_letter")
    api.post(f"/automation-rules/{rule['id']}/enable")
    invoice = issue_invoice(api, "1", delivery_method="email", **ADDRESS)
    run_worker(db, settings)
    (email,) = deliveries(api, invoice["id"])
    assert email["channel"] == "email" and email["state"] == "sent" and len(mailbox.to("c1@example.se")) == 1

    bounce = api.post("/delivery/bounces", {"invoice": invoice["id"], "reason": "550 5.1.1 user unknown"})
    assert bounce.status_code == 200, bounce.text
    run_worker(db, settings)
    (firing,) = firings(api, rule["id"])
    assert firing["state"] == "done", firing["error"]
    channels = sorted((d["channel"], d["state"] == "failed") for d in deliveries(api, invoice["id"]))
    assert channels[0] == ("email", True) and [c for c, _ in channels] == ["email", "letter"]
    # A second report of the same bounce changes nothing: no second letter.
    api.post("/delivery/bounces", {"invoice": invoice["id"], "reason": "550 5.1.1 user unknown"})
    run_worker(db, settings)
    assert len(deliveries(api, invoice["id"])) == 2 and len(firings(api, rule["id"])) == 1


def test_a_bounced_sms_is_not_sent_as_a_letter(api: Api, db: Database, settings: Settings) -> None:
    rule = install(api, "email_failed_letter")
    api.post(f"/automation-rules/{rule['id']}/enable")
    invoice = issue_invoice(api, "1", delivery_method="email", **ADDRESS)
    run_worker(db, settings)
    with db.transaction() as session:
        payload = {"type": "invoice.delivery_failed", "invoice_id": invoice["id"], "data": {"channel": "sms"}}
        enqueue(session, DOMAIN_EVENT_JOB, payload, tenant_id=api.tenant_id)
    run_worker(db, settings)
    assert firings(api, rule["id"]) == []
