"""SMS end to end over HTTP: Kvitt's 46elks client → the 46elks simulator (uvicorn on loopback),
whose delivery reports come back to Kvitt's own callback route (Kvitt served on loopback too)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import OutboxJob
from kvitt.customers.models import Customer
from kvitt.delivery import service
from kvitt.delivery.channels import sms as sms_channel
from kvitt.delivery.models import Delivery
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.sms_46elks import Elks46Simulator
from kvitt.worker import Worker
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, event_types, issue, set_env
from tests.loopback import Mailbox


@pytest.fixture
def elks(
    db: Database, settings: Settings, delivery_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Elks46Simulator]:
    simulator = Elks46Simulator(users={"u1234": "secret"}, failing_numbers={"+46700000000"})
    kvitt = serve_in_thread(create_app(settings, db, embedded_worker=False))
    sms_server = serve_in_thread(simulator.app())
    set_env(
        monkeypatch,
        KVITT_SMS_URL=sms_server.url,
        KVITT_SMS_USER="u1234",
        KVITT_SMS_PASSWORD="secret",
        KVITT_PUBLIC_URL=kvitt.url,
    )
    try:
        yield simulator
    finally:
        _stop(sms_server, kvitt)


def _stop(*servers: RunningServer) -> None:
    for server in servers:
        server.stop()


def wait_for_reports(simulator: Elks46Simulator, count: int) -> None:
    """The simulator posts its reports in the background; wait until they have been answered."""
    deadline = time.monotonic() + 20
    while len(simulator.reports) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(simulator.reports) >= count, simulator.reports


def test_an_sms_with_the_link_is_sent_and_its_delivery_report_recorded(
    api: Api, db: Database, elks: Elks46Simulator
) -> None:
    astrid = customer(api, "2001", phone="070-123 45 67", delivery_method="sms")
    invoice = issue(api, astrid["id"])
    drain(db)

    (sms,) = elks.sent
    assert sms["to"] == "+46701234567" and sms["from"] == "NorrskenTel"
    assert sms["message"].startswith(f"Norrsken Telekom AB: faktura {invoice['number']}, 395,00")
    assert "/i/" in sms["message"] and len(sms["message"]) <= 160
    (delivery,) = deliveries(api, invoice["id"])
    assert delivery["provider_ref"] == sms["id"]
    wait_for_reports(elks, 1)
    assert elks.reports[0]["http_status"] == 200
    (delivery,) = deliveries(api, invoice["id"])
    assert delivery["state"] == "delivered"
    assert event_types(api, invoice["id"])[-2:] == ["sent", "delivered"]


def test_a_failed_sms_falls_back_to_email(api: Api, db: Database, elks: Elks46Simulator, mailbox: Mailbox) -> None:
    """The default chain for SMS: email, then letter."""
    nils = customer(api, "2002", phone="+46700000000", email="nils@example.se", delivery_method="sms")
    invoice = issue(api, nils["id"])
    drain(db)
    wait_for_reports(elks, 1)
    drain(db)

    sms, email = deliveries(api, invoice["id"])
    assert (sms["channel"], sms["state"]) == ("sms", "failed")
    assert (email["channel"], email["state"], email["reason"]) == ("email", "sent", "fallback")
    assert len(mailbox.to("nils@example.se")) == 1
    assert event_types(api, invoice["id"])[-3:] == ["sent", "delivery_failed", "sent"]


def test_46elks_unavailable_is_retried_and_sends_once(api: Api, db: Database, elks: Elks46Simulator) -> None:
    elks.unavailable_times = 2
    astrid = customer(api, "2003", phone="+46701234567", delivery_method="sms")
    invoice = issue(api, astrid["id"])
    drain(db)
    assert len(elks.sent) == 1
    assert deliveries(api, invoice["id"])[0]["state"] in ("sent", "delivered")


def test_a_refused_number_falls_back_at_once(api: Api, db: Database, elks: Elks46Simulator, mailbox: Mailbox) -> None:
    """46elks answers 400 for a number it cannot send to: retrying will not help."""
    # +4612 passes Kvitt's own check (E.164) but is too short for 46elks' (7-15 digits).
    odd = customer(api, "2004", phone="+46701234567", email="odd@example.se", delivery_method="sms")
    with db.transaction() as session:
        session.execute(update(Customer).where(Customer.id == odd["id"]).values(phone="+4612"))
    invoice = issue(api, odd["id"])
    drain(db)
    sms, email = deliveries(api, invoice["id"])
    assert sms["state"] == "failed" and "HTTP 400" in sms["error"] and "Invalid to number" in sms["error"]
    assert email["state"] == "sent" and elks.sent == []


class Crash(BaseException):
    """A worker process dying (not an error the worker could catch and record)."""


def test_a_worker_dying_mid_send_never_sends_the_sms_twice(
    api: Api, db: Database, elks: Elks46Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most once for SMS: the 'sending' mark is committed before 46elks is called."""
    astrid = customer(api, "2005", phone="+46701234567", delivery_method="sms")
    invoice = issue(api, astrid["id"])
    real_send = sms_channel.Elks46Client.send

    def send_then_die(self: sms_channel.Elks46Client, **kwargs: Any) -> Any:
        real_send(self, **kwargs)
        raise Crash

    monkeypatch.setattr(sms_channel.Elks46Client, "send", send_then_die)
    with pytest.raises(Crash):
        drain(db)
    monkeypatch.setattr(sms_channel.Elks46Client, "send", real_send)
    with db.transaction() as session:
        assert session.scalar(select(Delivery.state)) == "sending"
        # The dead worker's lease runs out; another worker takes the job over.
        session.execute(update(OutboxJob).where(OutboxJob.state == "running").values(locked_until=utcnow()))
    Worker(db, worker_id="other-worker").run_until_idle()
    drain(db)

    assert len(elks.sent) == 1
    (delivery,) = deliveries(api, invoice["id"])
    assert delivery["state"] == "unknown" and "not repeated" in delivery["error"]


def test_a_report_that_overtakes_its_sms_is_applied_when_the_job_records_it(
    api: Api, db: Database, elks: Elks46Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """46elks reports before the job has recorded the SMS's id: the report is kept on the
    delivery (``early_report``) and applied with the outcome. The job's session still holds the
    row it read before the call, so the outcome must be recorded on the row as it is now (on
    SQLite it was not: the report was overwritten and the SMS stayed ``sent``)."""
    person = customer(api, "6950", phone="+46701234595", delivery_method="sms")
    invoice_id = issue(api, person["id"])["id"]
    send = sms_channel.Elks46Client.send

    def send_then_report(self: sms_channel.Elks46Client, **kwargs: Any) -> Any:
        sent = send(self, **{**kwargs, "whendelivered": None})  # the simulator reports nothing itself
        with db.transaction() as other:  # the report, before the job records the SMS
            token = other.scalar(select(Delivery.callback_token).where(Delivery.invoice_id == invoice_id))
            assert service.report_sms_status(other, str(token), str(sent.provider_ref), "delivered")
        return sent

    monkeypatch.setattr(sms_channel.Elks46Client, "send", send_then_report)
    drain(db)
    (delivery,) = deliveries(api, invoice_id)
    assert delivery["state"] == "delivered" and delivery["provider_ref"] == elks.sent[0]["id"]
