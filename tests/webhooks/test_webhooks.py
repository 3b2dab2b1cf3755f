"""Webhooks against a real HTTP receiver on loopback: signed, filtered, retried, logged, replayed."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from kvitt.core.config import Settings
from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import PENDING, OutboxJob
from kvitt.invoices.timeline import DOMAIN_EVENT_JOB
from kvitt.webhooks import sender, service
from kvitt.webhooks.models import WebhookDelivery
from kvitt.webhooks.signing import InvalidSignature, verify
from tests.conftest import Api
from tests.webhooks.helpers import created, issue_invoice, make_due, pending_jobs, run_worker
from tests.webhooks.receiver import running


def endpoint(api: Api, url: str, events: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    return created(api.post("/webhook-endpoints", {"url": url, "events": events or ["*"], **fields}))


def deliveries(api: Api, endpoint_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/webhook-endpoints/{endpoint_id}/deliveries", params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def signatures(header: str) -> list[str]:
    return [part for part in header.split(",") if part.startswith("v1=")]


# --- endpoints --------------------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_endpoints_can_be_managed(api: Api) -> None:
    made = endpoint(api, "https://hooks.example.se/kvitt", ["invoice.issued", "reminder.sent"], description="ERP")
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 30
    # An alias is stored as the published type.
    assert made["events"] == ["invoice.issued", "invoice.reminder_sent"]
    one = api.get(f"/webhook-endpoints/{made['id']}").json()
    assert "secret" not in one and one["url"] == "https://hooks.example.se/kvitt"
    listed = api.get("/webhook-endpoints").json()["data"]
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]

    changed = api.patch(f"/webhook-endpoints/{made['id']}", {"events": ["invoice.*"], "enabled": False}).json()
    assert changed["events"] == ["invoice.*"] and changed["enabled"] is False and "secret" not in changed
    assert api.delete(f"/webhook-endpoints/{made['id']}").json()["deleted"] is True
    assert api.get(f"/webhook-endpoints/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.se/x",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "hooks.example.se/x",
        "https://",
        "http://a b",
    ],
)
def test_a_url_that_is_not_http_is_refused(api: Api, url: str) -> None:
    response = api.post("/webhook-endpoints", {"url": url, "events": ["*"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == "url"
    assert api.get("/webhook-endpoints").json()["data"] == []


@pytest.mark.parametrize("events", [[], ["invoice.exploded"], ["*", "nope"], ["bogus.*"]])
def test_unknown_event_types_are_refused(api: Api, events: list[str]) -> None:
    response = api.post("/webhook-endpoints", {"url": "https://x.example.se", "events": events})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == "events"


def test_the_event_catalogue_is_listed(api: Api) -> None:
    types = {t["type"]: t for t in api.get("/event-types").json()["data"]}
    assert {"invoice.issued", "invoice.delivery_failed", "autogiro.failed", "invoice.reminder_sent"} <= set(types)
    assert "reminder.sent" in types["invoice.reminder_sent"]["aliases"]


# --- delivery ---------------------------------------------------------------------------------------


def test_an_event_arrives_signed_and_is_logged(api: Api, db: Database, settings: Settings) -> None:
    with running() as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        invoice = issue_invoice(api)
        run_worker(db, settings)

    # Only the subscribed type arrives (the draft's invoice.created does not).
    (request,) = receiver.requests
    event = verify(request.body, request.headers["Kvitt-Signature"], hook["secret"])
    assert event["type"] == "invoice.issued" and event["id"].startswith("evt_")
    assert event["data"]["object"]["id"] == invoice["id"]
    assert event["data"]["object"]["number"] == invoice["number"]
    assert event["data"]["object"]["total"] == invoice["total"] == 31600
    assert event["data"]["details"]["ocr"] == invoice["ocr"]
    assert abs(event["created"] - time.time()) < 3600
    assert request.headers["Content-Type"] == "application/json"

    (logged,) = deliveries(api, hook["id"])
    assert logged["state"] == "succeeded" and logged["event"] == event["id"] and logged["attempts"] == 1
    (attempt,) = logged["log"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["number"] == 1
    assert attempt["response_excerpt"] == '{"ok":true}' and attempt["duration_ms"] >= 0


def test_the_verify_helper_refuses_forgeries_and_old_requests(api: Api, db: Database, settings: Settings) -> None:
    with running() as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
    (request,) = receiver.requests
    header = request.headers["Kvitt-Signature"]
    with pytest.raises(InvalidSignature):
        verify(request.body, header, "whsec_wrong")
    with pytest.raises(InvalidSignature):
        verify(request.body.replace(b"31600", b"1"), header, hook["secret"])
    with pytest.raises(InvalidSignature, match="timestamp"):
        verify(request.body, header, hook["secret"], now=int(time.time()) + 301)
    assert verify(request.body, header, hook["secret"], tolerance=0, now=0)["type"] == "invoice.issued"
    for broken in ("", "v1=abc", "t=123", "t=x,v1=abc"):
        with pytest.raises(InvalidSignature):
            verify(request.body, broken, hook["secret"])


def test_star_means_every_event_and_a_prefix_its_family(api: Api, db: Database, settings: Settings) -> None:
    with running() as everything, running() as paid_only, running() as invoices:
        endpoint(api, everything.url, ["*"])
        endpoint(api, paid_only.url, ["invoice.paid"])
        endpoint(api, invoices.url, ["invoice.*"])
        issue_invoice(api)
        run_worker(db, settings)
    types = [json.loads(r.body)["type"] for r in everything.requests]
    assert sorted(types) == ["invoice.created", "invoice.issued"]
    assert paid_only.requests == []
    assert sorted(json.loads(r.body)["type"] for r in invoices.requests) == sorted(types)


def test_a_failing_receiver_is_retried_until_it_recovers(api: Api, db: Database, settings: Settings) -> None:
    def answer(n: int) -> tuple[int, bytes, float]:
        return (500, b"database is down", 0.0) if n <= 2 else (200, b"thanks", 0.0)

    with running(answer) as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
        (logged,) = deliveries(api, hook["id"])
        assert len(receiver.requests) == 1 and logged["state"] == "pending" and logged["next_attempt_at"]
        assert logged["log"][0]["status_code"] == 500 and logged["log"][0]["error"] == "HTTP 500"
        assert logged["log"][0]["response_excerpt"] == "database is down"
        # The retry waits: running the worker now sends nothing.
        run_worker(db, settings)
        assert len(receiver.requests) == 1
        waits = []
        for _ in range(2):
            (job,) = pending_jobs(db, service.DELIVER_JOB)
            waits.append(job.run_at - utcnow())
            assert make_due(db, service.DELIVER_JOB) == 1
            run_worker(db, settings)

    assert len(receiver.requests) == 3
    assert waits[1] > waits[0]  # backoff: the second wait is longer than the first
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1, "every attempt sends the same event (same id, same body)"
    secret = hook["secret"]
    assert {verify(r.body, r.headers["Kvitt-Signature"], secret)["id"] for r in receiver.requests} == {
        json.loads(receiver.requests[0].body)["id"]
    }
    (logged,) = deliveries(api, hook["id"])
    assert logged["state"] == "succeeded" and logged["attempts"] == 3 and logged["next_attempt_at"] is None
    assert [a["status_code"] for a in logged["log"]] == [500, 500, 200]
    assert pending_jobs(db, service.DELIVER_JOB) == []


def test_retries_stop_three_days_after_the_first_attempt(api: Api, db: Database, settings: Settings) -> None:
    with running(lambda n: (503, b"", 0.0)) as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
        # As if the first attempt had been almost three days ago.
        with db.transaction() as session:
            session.execute(update(WebhookDelivery).values(first_attempt_at=utcnow() - timedelta(days=3, minutes=-1)))
        make_due(db, service.DELIVER_JOB)
        run_worker(db, settings)
    (logged,) = deliveries(api, hook["id"])
    assert len(receiver.requests) == 2
    assert logged["state"] == "failed" and logged["next_attempt_at"] is None
    assert pending_jobs(db, service.DELIVER_JOB) == []


def test_the_retry_schedule_spans_three_days() -> None:
    elapsed, attempts = timedelta(0), 1
    waits = []
    while elapsed + service.retry_delay(attempts) <= service.RETRY_WINDOW:
        waits.append(service.retry_delay(attempts))
        elapsed += waits[-1]
        attempts += 1
    assert waits == sorted(waits) and waits[0] == timedelta(seconds=30)
    assert service.RETRY_WINDOW - elapsed < timedelta(hours=12)  # the last attempt comes late on day 3
    assert 10 <= attempts <= 15


def test_an_endpoint_that_never_answers_does_not_hold_the_worker(
    api: Api, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender, "READ_TIMEOUT", 0.3)
    with running(lambda n: (200, b"too late", 5.0)) as silent, running() as healthy:
        slow = endpoint(api, silent.url, ["invoice.issued"])
        fast = endpoint(api, healthy.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
        assert len(silent.requests) == 1 and len(healthy.requests) == 1
        (timed_out,) = deliveries(api, slow["id"])
        assert timed_out["state"] == "pending" and timed_out["log"][0]["error"].startswith("timeout")
        assert timed_out["log"][0]["status_code"] is None
        assert deliveries(api, fast["id"])[0]["state"] == "succeeded"


def test_a_dead_address_is_an_attempt_that_failed(api: Api, db: Database, settings: Settings) -> None:
    with running() as receiver:
        url = receiver.url
    hook = endpoint(api, url, ["invoice.issued"])  # the server is gone: connection refused
    issue_invoice(api)
    run_worker(db, settings)
    (logged,) = deliveries(api, hook["id"])
    assert logged["state"] == "pending" and logged["log"][0]["error"].startswith("ConnectError")


def test_a_domain_event_run_twice_creates_one_delivery(api: Api, db: Database, settings: Settings) -> None:
    with running() as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
        # The worker that ran the event lost its lease and another ran it again.
        with db.transaction() as session:
            session.execute(
                update(OutboxJob)
                .where(OutboxJob.kind == DOMAIN_EVENT_JOB)
                .values(state=PENDING, run_at=utcnow(), attempts=0, locked_by=None)
            )
        run_worker(db, settings)
    assert len(receiver.requests) == 1
    assert len(deliveries(api, hook["id"])) == 1
    with db.transaction() as session:
        assert session.scalar(select(func.count(WebhookDelivery.id))) == 1


def test_a_delivery_can_be_replayed(api: Api, db: Database, settings: Settings) -> None:
    with running() as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
        (logged,) = deliveries(api, hook["id"])
        replayed = api.post(f"/webhook-endpoints/{hook['id']}/deliveries/{logged['id']}/replay")
        assert replayed.status_code == 200, replayed.text
        run_worker(db, settings)
    first, second = (json.loads(r.body) for r in receiver.requests)
    assert first == second  # the same event, id and all
    (logged,) = deliveries(api, hook["id"])
    assert [a["replay"] for a in logged["log"]] == [False, True] and logged["state"] == "succeeded"
    missing = api.post(f"/webhook-endpoints/{hook['id']}/deliveries/987654/replay")
    assert missing.status_code == 404


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(api: Api, db: Database, settings: Settings) -> None:
    with running() as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        rotated = api.post(f"/webhook-endpoints/{hook['id']}/rotate-secret", {"expires_in_hours": 24})
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()
        assert new["secret"] != hook["secret"] and new["previous_secret_valid_until"]
        issue_invoice(api, "1")
        run_worker(db, settings)
        # Rotating again at once with no grace: only the newest secret signs.
        newest = api.post(f"/webhook-endpoints/{hook['id']}/rotate-secret", {"expires_in_hours": 0}).json()
        issue_invoice(api, "2")
        run_worker(db, settings)

    during, after = receiver.requests
    assert len(signatures(during.headers["Kvitt-Signature"])) == 2
    for secret in (hook["secret"], new["secret"]):
        assert verify(during.body, during.headers["Kvitt-Signature"], secret)["type"] == "invoice.issued"
    # The first rotation's grace still covers the original secret; the second one's left none for
    # the middle secret.
    assert len(signatures(after.headers["Kvitt-Signature"])) == 2
    verify(after.body, after.headers["Kvitt-Signature"], newest["secret"])
    verify(after.body, after.headers["Kvitt-Signature"], hook["secret"])
    with pytest.raises(InvalidSignature):
        verify(after.body, after.headers["Kvitt-Signature"], new["secret"])


def test_deleting_an_endpoint_stops_its_pending_attempts(api: Api, db: Database, settings: Settings) -> None:
    with running(lambda n: (500, b"", 0.0)) as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
        assert api.delete(f"/webhook-endpoints/{hook['id']}").status_code == 200
        make_due(db, service.DELIVER_JOB)
        run_worker(db, settings)
    assert len(receiver.requests) == 1
    assert pending_jobs(db, service.DELIVER_JOB) == []


def test_a_disabled_endpoint_gets_no_more_attempts_until_replayed(api: Api, db: Database, settings: Settings) -> None:
    with running(lambda n: (500, b"", 0.0) if n == 1 else (200, b"", 0.0)) as receiver:
        hook = endpoint(api, receiver.url, ["invoice.issued"])
        issue_invoice(api)
        run_worker(db, settings)
        api.patch(f"/webhook-endpoints/{hook['id']}", {"enabled": False})
        make_due(db, service.DELIVER_JOB)
        run_worker(db, settings)
        (logged,) = deliveries(api, hook["id"])
        assert len(receiver.requests) == 1 and logged["state"] == "failed"
        assert logged["last_error"] == "the endpoint is disabled"
        issue_invoice(api, "2")  # no new deliveries while switched off
        run_worker(db, settings)
        assert len(deliveries(api, hook["id"])) == 1

        api.patch(f"/webhook-endpoints/{hook['id']}", {"enabled": True})
        api.post(f"/webhook-endpoints/{hook['id']}/deliveries/{logged['id']}/replay")
        run_worker(db, settings)
    assert len(receiver.requests) == 2 and deliveries(api, hook["id"])[0]["state"] == "succeeded"
