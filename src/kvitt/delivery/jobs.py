"""What the worker does for delivery: start deliveries on issue, send, print, poll, notify."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.core.clock import daily_job
from kvitt.core.events import subscribe
from kvitt.core.outbox import OutboxJob, handles
from kvitt.delivery import sending, service

PRINT_SWEEP_JOB = "delivery.print_sweep"
# Once a day, after dunning (30) has asked for its reminders, every letter still waiting goes
# into a batch (a letter whose slot job ran before its transaction committed is not left behind).
daily_job(PRINT_SWEEP_JOB, order=90)


@subscribe("invoice.issued")
def deliver_issued_invoice(session: Session, tenant_id: int | None, event: dict[str, Any]) -> None:
    """Per issued invoice: one delivery row and one job (letters: a share of a print batch)."""
    if tenant_id is not None:
        service.request_delivery(session, tenant_id, int(event["invoice_id"]), reason="issue")


@handles(service.SEND_JOB)
def run_send(session: Session, job: OutboxJob) -> None:
    sending.send_delivery(session, job)


@handles(service.PRINT_BATCH_JOB)
def run_print_batch(session: Session, job: OutboxJob) -> None:
    sending.print_batch(session, job)


@handles(PRINT_SWEEP_JOB)
def run_print_sweep(session: Session, job: OutboxJob) -> None:
    sending.print_batch(session, job)


@handles(service.EINVOICE_STATUS_JOB)
def run_einvoice_status(session: Session, job: OutboxJob) -> None:
    sending.poll_einvoice(session, job)


@handles(service.STAFF_EMAIL_JOB)
def run_staff_email(session: Session, job: OutboxJob) -> None:
    sending.staff_email(session, job)
