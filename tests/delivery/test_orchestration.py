"""Orchestration: once per document and chain (a unique key in the database), explicit resends,
tenant fallback chains, reminders, staff notes."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import DONE, OutboxJob, enqueue
from kvitt.delivery import service
from kvitt.delivery.jobs import run_send
from kvitt.delivery.models import Delivery
from kvitt.invoices.timeline import DOMAIN_EVENT_JOB
from kvitt.worker import Worker
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, event_types, issue
from tests.loopback import Mailbox


def test_the_issued_event_handled_twice_sends_one_email(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    astrid = customer(api, "5001", email="astrid@example.se", delivery_method="email")
    invoice = issue(api, astrid["id"])
    drain(db)
    with db.transaction() as session:  # the same event again, as a retried or replayed job
        event = {"type": "invoice.issued", "invoice_id": invoice["id"], "data": {}}
        enqueue(session, DOMAIN_EVENT_JOB, event, tenant_id=api.tenant_id)
    drain(db)
    assert len(mailbox.to("astrid@example.se")) == 1
    assert len(deliveries(api, invoice["id"])) == 1


def test_the_send_job_run_again_sends_nothing(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    astrid = customer(api, "5002", email="astrid@example.se", delivery_method="email")
    issue(api, astrid["id"])
    drain(db)
    with db.transaction() as session:
        job = session.scalar(select(OutboxJob).where(OutboxJob.kind == service.SEND_JOB))
        assert job is not None and job.state == DONE
        run_send(session, job)  # a rerun of the finished job, as after a lost acknowledgement
    assert len(mailbox.messages) == 1


def test_two_workers_at_once_send_each_email_once(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    people = [customer(api, f"52{i:02d}", email=f"c{i}@example.se", delivery_method="email") for i in range(12)]
    for person in people:
        issue(api, person["id"])
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            worker = Worker(db, worker_id=name)
            for _ in range(5):
                worker.run_until_idle()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain(db)
    assert not errors
    assert sorted(m["To"] for m in mailbox.messages) == sorted(f"c{i}@example.se" for i in range(12))


def test_the_database_refuses_a_second_delivery_on_the_same_chain_and_channel(
    api: Api, db: Database, delivery_env: dict[str, Any]
) -> None:
    """The unique key, not only the code: a direct duplicate insert fails."""
    astrid = customer(api, "5003", email="astrid@example.se", delivery_method="email")
    invoice = issue(api, astrid["id"])
    drain(db)
    now = utcnow()
    row = {
        "tenant_id": api.tenant_id,
        "invoice_id": invoice["id"],
        "document": "invoice",
        "chain": 0,
        "channel": "email",
        "first_channel": "email",
        "reason": "issue",
        "state": "pending",
        "attempts": 0,
        "actor": "test",
        "data": {},
        "created_at": now,
        "updated_at": now,
    }
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(Delivery(**row))
        session.flush()


def test_an_explicit_resend_is_a_new_delivery_and_may_name_the_channel(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    astrid = customer(api, "5004", email="astrid@example.se", delivery_method="email")
    invoice = issue(api, astrid["id"])
    drain(db)
    again = api.post(f"/invoices/{invoice['id']}/send", {"method": "email"})
    assert again.status_code == 202, again.text
    assert (again.json()["chain"], again.json()["reason"], again.json()["actor"]) == (1, "resend", "api")
    letter = api.post(f"/invoices/{invoice['id']}/send", {"method": "letter"})
    assert letter.json()["chain"] == 2
    preferred = api.post(f"/invoices/{invoice['id']}/send", {})
    assert (preferred.json()["channel"], preferred.json()["chain"]) == ("email", 3)
    drain(db)
    assert len(mailbox.to("astrid@example.se")) == 3
    assert [d["state"] for d in deliveries(api, invoice["id"])] == ["sent"] * 4


def test_a_retried_resend_request_with_its_idempotency_key_sends_once(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    astrid = customer(api, "5005", email="astrid@example.se", delivery_method="letter")
    invoice = issue(api, astrid["id"])
    headers = {"Idempotency-Key": "resend-5005"}
    first = api.post(f"/invoices/{invoice['id']}/send", {"method": "email"}, headers=headers)
    second = api.post(f"/invoices/{invoice['id']}/send", {"method": "email"}, headers=headers)
    assert first.json() == second.json()
    drain(db)
    assert len(mailbox.to("astrid@example.se")) == 1


def test_sending_a_draft_or_a_foreign_method_is_refused(api: Api, delivery_env: dict[str, Any]) -> None:
    astrid = customer(api, "5006", email="astrid@example.se")
    lines = [{"description": "x", "quantity": "1", "unit_price": 100, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": astrid["id"], "lines": lines}).json()
    response = api.post(f"/invoices/{draft['id']}/send", {"method": "email"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "invoice_not_issued"
    invoice = issue(api, astrid["id"])
    response = api.post(f"/invoices/{invoice['id']}/send", {"method": "fax"})
    assert response.status_code == 422 and response.json()["error"]["param"] == "method"
    response = api.post(f"/invoices/{invoice['id']}/send", {"method": "sms"})
    assert response.status_code == 422 and "phone" in response.json()["error"]["message"]


def test_the_tenant_sets_its_fallback_chains(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    defaults = api.get("/delivery/settings").json()
    assert defaults == {
        "object": "delivery_settings",
        "fallback": {
            "email": ["letter"],
            "sms": ["email", "letter"],
            "letter": [],
            "einvoice": ["email", "letter"],
        },
        "attach_pdf": False,
    }
    bad = api.patch("/delivery/settings", {"fallback": {"email": ["letter", "letter"]}})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "fallback.email[1]"
    bad = api.patch("/delivery/settings", {"fallback": {"email": ["pigeon"]}})
    assert bad.status_code == 422
    changed = api.patch("/delivery/settings", {"fallback": {"email": []}})
    assert changed.json()["fallback"]["email"] == [] and changed.json()["fallback"]["sms"] == ["email", "letter"]

    mailbox.refuse["gone@example.se"] = "550 5.1.1 No such user"
    gone = customer(api, "5007", email="gone@example.se", delivery_method="email")
    invoice = issue(api, gone["id"])
    drain(db)
    (email,) = deliveries(api, invoice["id"])  # no letter: this tenant's email chain is empty
    assert email["state"] == "failed"


def test_a_reminder_is_delivered_once_however_often_dunning_asks(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    astrid = customer(api, "5008", email="astrid@example.se", delivery_method="email")
    invoice = issue(api, astrid["id"])
    drain(db)
    for _ in range(2):
        with db.transaction() as session:
            service.request_delivery(session, api.tenant_id, invoice["id"], reason="reminder", reminder_id=77)
    drain(db)
    reminders = [m for m in mailbox.to("astrid@example.se") if m["Subject"].startswith("Påminnelse")]
    assert (
        len(reminders) == 1
        and reminders[0]["Subject"] == f"Påminnelse: faktura {invoice['number']} från Norrsken Telekom AB"
    )
    assert [d["document"] for d in deliveries(api, invoice["id"])] == ["invoice", "reminder:77"]
    assert event_types(api, invoice["id"]).count("sent") == 2


def test_staff_are_notified_by_email(api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]) -> None:
    assert api.patch("/tenant", {"email": "ekonomi@norrsken.se"}).status_code == 200
    with db.transaction() as session:
        service.notify_staff(session, api.tenant_id, "Nytt meddelande", "Astrid har skrivit om faktura 12.")
    drain(db)
    (message,) = mailbox.to("ekonomi@norrsken.se")
    assert message["Subject"] == "Nytt meddelande"
    assert message.get_content().strip() == "Astrid har skrivit om faktura 12."
