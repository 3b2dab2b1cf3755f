"""Shared steps of the webhook and event-chain tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from kvitt.core.config import Settings
from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import PENDING, OutboxJob
from kvitt.worker import Worker
from tests.conftest import Api


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def issue_invoice(api: Api, customer_no: str = "1001", total: int = 31600, **customer: Any) -> dict[str, Any]:
    body = {"customer_no": customer_no, "name": "Astrid Lindqvist", "email": f"c{customer_no}@example.se", **customer}
    found = api.get("/customers", params={"customer_no": customer_no}).json()["data"]
    customer_id = found[0]["id"] if found else created(api.post("/customers", body))["id"]
    line = {"description": "Mobilabonnemang", "quantity": "1", "unit_price": total * 4 // 5, "vat_rate": 25}
    draft = created(api.post("/invoices", {"customer": customer_id, "lines": [line]}))
    response = api.post(f"/invoices/{draft['id']}/issue")
    assert response.status_code == 200, response.text
    return dict(response.json())


def run_worker(db: Database, settings: Settings) -> int:
    return Worker(db, settings, worker_id="test-worker").run_until_idle()


def make_due(db: Database, kind: str) -> int:
    """Let time pass for waiting jobs of ``kind``: their run_at becomes now. Returns how many."""
    with db.transaction() as session:
        result = session.execute(
            update(OutboxJob)
            .where(OutboxJob.kind == kind, OutboxJob.state == PENDING, OutboxJob.run_at > utcnow())
            .values(run_at=utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def pending_jobs(db: Database, kind: str) -> list[OutboxJob]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxJob).where(OutboxJob.kind == kind, OutboxJob.state == PENDING)))
