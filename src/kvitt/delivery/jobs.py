"""What the worker does for delivery: start deliveries on issue, send, print, poll, notify."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.core.clock import daily_job
from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import JobFailures, OutboxJob, handles, handles_batch
from kvitt.delivery import sending, service

PRINT_SWEEP_JOB = "delivery.print_sweep"
# Once a day, after dunning (30) has asked for its reminders, every letter still waiting goes
# into a batch (a letter whose slot job ran before its transaction committed is not left behind).
daily_job(PRINT_SWEEP_JOB, order=90)


@subscribe_batch("invoice.issued")
def deliver_issued_invoices(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    """Per batch of issued invoices: their delivery rows and send jobs in a few set-based
    statements (letters: a share of a print batch); see ``service.request_deliveries``."""
    service.request_deliveries(session, tenant_id, [int(event["invoice_id"]) for event in events], reason="issue")


@handles_batch(service.SEND_JOB)
def run_sends(session: Session, jobs: list[OutboxJob]) -> JobFailures:
    """Every claimed send job of a tenant at once: per channel, one connection (see sending)."""
    return sending.send_batch(session, jobs)


def run_send(session: Session, job: OutboxJob) -> None:
    """One send job alone (a retry is raised)."""
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


@handles(service.CUSTOMER_SMS_JOB)
def run_customer_sms(session: Session, job: OutboxJob) -> None:
    sending.customer_sms(session, job)
