"""Direct payments on collected invoices, a batch of events at a time: one report per invoice and
payment (as one by one), none for invoices without an open case, none again on a rerun."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.dunning import jobs, tick
from kvitt.simulators import RunningServer
from tests.conftest import Api
from tests.dunning.test_collection import DAY, _overdue, _run_jobs, agency  # noqa: F401 - the fixture
from tests.webhooks.batching import counting_statements, pending_events


def _reports(db: Database) -> list[tuple[int, int, Any]]:
    with db.transaction() as session:
        jobs_ = session.scalars(select(OutboxJob).where(OutboxJob.kind == jobs.REPORT_PAYMENT_JOB))
        return sorted((j.payload["invoice"], j.payload["amount"], j.dedupe_key) for j in jobs_)


def test_a_batch_of_payments_reports_those_on_collected_invoices(
    api: Api,
    db: Database,
    agency: RunningServer,  # noqa: F811
) -> None:
    steps = [{"days": 1, "after": "due", "action": "collection"}]
    api.post("/dunning-policies", {"name": "Inkasso", "priority": 1, "steps": steps})
    api.patch("/dunning-settings", {"agency_url": agency.url, "agency_api_key": "sim-key"})
    collected = [_overdue(api, f"P{n}", "individual") for n in range(2)]
    api.post("/dunning/run", {"date": DAY})
    assert _run_jobs(db, tick.SUBMIT_CASE_JOB) == 2
    tenant_id = api.tenant_id
    # Issued after the run: no case.
    free = _overdue(api, "F1", "individual")
    before = {e["event_job_id"] for e in pending_events(db, tenant_id)}
    for invoice, amount in ((collected[0], 10000), (collected[0], 5000), (collected[1], 7000), (free, 3000)):
        paid = api.post(f"/invoices/{invoice['id']}/payments", {"amount": amount, "date": "2026-03-20"})
        assert paid.status_code == 200, paid.text
    events = [
        e for e in pending_events(db, tenant_id) if e["type"] == "invoice.payment" and e["event_job_id"] not in before
    ]
    assert len(events) == 4

    with db.transaction() as session:
        jobs.payment_on_collected_invoice(session, tenant_id, events)
    made = _reports(db)
    assert [(invoice, amount) for invoice, amount, _ in made] == sorted(
        [(collected[0]["id"], 10000), (collected[0]["id"], 5000), (collected[1]["id"], 7000)]
    )
    # The same events again, in a batch or one by one: nothing new.
    with db.transaction() as session:
        jobs.payment_on_collected_invoice(session, tenant_id, events + events)
    for event in events:
        with db.transaction() as session:
            jobs.payment_on_collected_invoice(session, tenant_id, [event])
    assert _reports(db) == made

    # Payments on invoices without an open case: one query for the batch, nothing enqueued.
    without = [e for e in events if e["invoice_id"] == free["id"]] * 30
    with db.transaction() as session, counting_statements(db) as seen:
        jobs.payment_on_collected_invoice(session, tenant_id, without)
    assert len(seen) == 1 and _reports(db) == made
