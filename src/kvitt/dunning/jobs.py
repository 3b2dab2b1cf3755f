"""The dunning jobs the worker runs: the daily tick, reminder delivery, the collection agency."""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core import clock
from kvitt.core.clock import daily_job
from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import OutboxJob, enqueue_rows, handles
from kvitt.dunning import collection, tick
from kvitt.dunning.models import CollectionCase
from kvitt.tenants.models import Tenant

log = structlog.get_logger("kvitt.dunning")

TICK_JOB = "dunning.tick"
SYNC_JOB = "dunning.collection_sync"
REPORT_PAYMENT_JOB = "dunning.report_payment"
daily_job(TICK_JOB, order=30)
daily_job(SYNC_JOB, order=25)  # before the tick: money the agency collected first
_CHUNK = 500  # invoices per query of a batch subscriber (an IN list stays well under the limits)


def _tenant(session: Session, job: OutboxJob) -> Tenant | None:
    return session.get(Tenant, job.tenant_id) if job.tenant_id is not None else None


@handles(TICK_JOB)
def run_tick(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    if tenant is not None:
        tick.run(session, tenant, today=date.fromisoformat(job.payload["date"]))


@handles(tick.DELIVER_JOB)
def deliver_reminder(session: Session, job: OutboxJob) -> None:
    """Hand the reminder to delivery (the customer's channel, or the step's)."""
    payload = job.payload
    assert job.tenant_id is not None
    _deliver(session, job.tenant_id, int(payload["reminder"]), int(payload["invoice"]), payload.get("channel"))


@handles(tick.DELIVER_BUNDLE_JOB)
def deliver_reminders(session: Session, job: OutboxJob) -> None:
    """A tick's bundle of reminders, handed to delivery in one job. If one of them fails, none of
    the bundle is kept (a savepoint) and each becomes a job of its own (``DELIVER_JOB``, the key
    a lone job has), so the good ones go through on their next run and the bad one is retried
    and recorded alone."""
    assert job.tenant_id is not None
    tenant_id = job.tenant_id
    items = [(int(reminder), int(invoice), channel) for reminder, invoice, channel in job.payload["reminders"]]
    try:
        with session.begin_nested():
            for reminder, invoice, channel in items:
                _deliver(session, tenant_id, reminder, invoice, channel)
    except Exception as exc:
        # Broad on purpose, and swallows nothing for good: whatever one reminder raised (a channel
        # delivery refuses, an invoice gone, a constraint) is logged here with its reason, and the
        # same call runs again in that reminder's own job, which raises and records it there. A
        # lost connection is not swallowed: the split's own writes below fail and re-raise.
        if len(items) == 1:
            raise
        log.warning("reminder bundle failed, splitting it into one job per reminder", job=job.id, error=str(exc)[:500])
        enqueue_rows(session, [tick.reminder_job(tenant_id, *item) for item in items])


def _deliver(session: Session, tenant_id: int, reminder: int, invoice: int, channel: str | None) -> None:
    from kvitt.delivery.service import request_delivery  # the delivery feature; imported when used

    request_delivery(
        session, tenant_id, invoice, channel=channel, reason="reminder", reminder_id=reminder, actor="system"
    )


@handles(tick.SUBMIT_CASE_JOB)
def submit_case(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    if tenant is not None:
        collection.submit(session, tenant, int(job.payload["case"]), collection.agency_for(session, tenant))


@handles(SYNC_JOB)
def sync_agency(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    if tenant is None:
        return
    agency = collection.agency_for(session, tenant)
    if agency is not None:
        collection.sync(session, tenant, agency, today=date.fromisoformat(job.payload["date"]))


@subscribe_batch("invoice.payment")
def payment_on_collected_invoice(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    """Money paid to the creditor directly on an invoice at the agency: tell the agency.

    One query for the batch: the invoices among the payments' that have an open collection case
    (usually none). A report exists once per invoice and payment (its dedupe key), also when
    the same event's job runs again.
    """
    direct = [
        event
        for event in events
        if event.get("invoice_id") is not None
        and not str((event.get("data") or {}).get("reference") or "").startswith("inkasso ")
    ]
    if not direct:
        return
    invoice_ids = sorted({int(event["invoice_id"]) for event in direct})
    collected: set[int] = set()
    for start in range(0, len(invoice_ids), _CHUNK):  # one query per 500 invoices
        collected.update(
            session.scalars(
                select(CollectionCase.invoice_id).where(
                    CollectionCase.tenant_id == tenant_id,
                    CollectionCase.invoice_id.in_(invoice_ids[start : start + _CHUNK]),
                    CollectionCase.state == "open",
                )
            )
        )
    reports: dict[str, dict[str, Any]] = {}
    for event in direct:
        if int(event["invoice_id"]) in collected:
            data = event.get("data") or {}
            key = f"{REPORT_PAYMENT_JOB}:{event['invoice_id']}:{data.get('payment')}"
            payload = {"invoice": int(event["invoice_id"]), "amount": int(data["amount"]), "date": data.get("date")}
            reports.setdefault(key, payload)
    if not reports:
        return
    made = set(session.scalars(select(OutboxJob.dedupe_key).where(OutboxJob.dedupe_key.in_(reports))))
    enqueue_rows(
        session,
        [
            {"tenant_id": tenant_id, "kind": REPORT_PAYMENT_JOB, "payload": payload, "dedupe_key": key}
            for key, payload in reports.items()
            if key not in made
        ],
    )


@handles(REPORT_PAYMENT_JOB)
def report_payment(session: Session, job: OutboxJob) -> None:
    tenant = _tenant(session, job)
    agency = collection.agency_for(session, tenant) if tenant is not None else None
    if tenant is None or agency is None:
        return
    on = date.fromisoformat(job.payload["date"]) if job.payload.get("date") else clock.today()
    collection.report_direct_payment(
        session, tenant, int(job.payload["invoice"]), int(job.payload["amount"]), on, agency
    )
