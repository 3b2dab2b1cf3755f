"""Helpers for the delivery tests; the SMTP server and its settings are in tests/loopback.py."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from kvitt.core.config import get_settings
from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import PENDING, OutboxJob
from kvitt.worker import Worker
from tests.conftest import Api


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


def drain(db: Database, rounds: int = 30) -> int:
    """Run the worker until no job is left, pulling every waiting job's time forward.

    Print batches wait for their time slot, retries for their backoff, access point status
    polls for their delay: here time is not waited for, the jobs just run in their order.
    """
    worker = Worker(db, worker_id="test-worker")
    total = 0
    for _ in range(rounds):
        with db.transaction() as session:
            session.execute(update(OutboxJob).where(OutboxJob.state == PENDING).values(run_at=utcnow()))
        ran = worker.run_until_idle()
        total += ran
        if not ran:
            break
    return total


def customer(api: Api, no: str, **fields: Any) -> dict[str, Any]:
    body = {
        "customer_no": no,
        "name": "Astrid Lindqvist",
        "address_line1": "Storgatan 1",
        "postal_code": "11122",
        "city": "Stockholm",
        **fields,
    }
    response = api.post("/customers", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def issue(api: Api, customer_id: int, price: int = 31600) -> dict[str, Any]:
    lines = [{"description": "Mobilabonnemang Fri", "quantity": "1", "unit_price": price, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer_id, "lines": lines})
    assert draft.status_code == 201, draft.text
    issued = api.post(f"/invoices/{draft.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def event_types(api: Api, invoice_id: int) -> list[str]:
    return [e["type"] for e in api.get(f"/invoices/{invoice_id}/events").json()["data"]]


def deliveries(api: Api, invoice_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/invoices/{invoice_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])
