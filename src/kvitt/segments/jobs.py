"""The segments' work in the worker.

- The daily job: the customers' behaviour computed for the day (when a segment has a rule on it)
  and every segment counted again, so that counts stay current while customers and their
  behaviour change (a segment is also counted whenever it is saved).
- The ``invoice.`` subscriber: the behaviour rows of the customers whose invoices a batch of
  events touched (a payment, a reminder, overdue, issued, credited ...) computed again, in the
  batch's transaction, for tenants whose table has been built (``segments.behaviour_table``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.clock import daily_job
from kvitt.core.db import any_of
from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import OutboxJob, handles
from kvitt.invoices.models import Invoice
from kvitt.segments import behaviour_table, service
from kvitt.tenants.models import Tenant

RECOUNT_JOB = "segments.recount"
daily_job(RECOUNT_JOB, order=95)  # after the day's billing, overdue sweep and dunning


@handles(RECOUNT_JOB)
def run_recount(session: Session, job: OutboxJob) -> None:
    tenant = session.get(Tenant, job.tenant_id)
    if tenant is not None:
        service.recount_all(session, tenant)


# Events that change none of the behaviour facts (balance, amounts, lateness, reminders, how the
# customer pays): a billing day's `invoice.sent` bundles then cost the subscriber nothing.
NO_FACT_CHANGES = frozenset(
    f"invoice.{name}"
    for name in (
        "sent",
        "delivered",
        "delivery_failed",
        "letter_sent",
        "opened",
        "message_received",
        "message_sent",
        "offer_clicked",
        "survey_answered",
    )
)


@subscribe_batch("invoice.")
def refresh_behaviour(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    invoice_ids = {int(e["invoice_id"]) for e in events if e.get("invoice_id") and e.get("type") not in NO_FACT_CHANGES}
    if not invoice_ids or not behaviour_table.is_built(session, tenant_id):
        return  # no table to keep: the first build computes everyone
    tenant = session.get(Tenant, tenant_id)
    touched = session.scalars(
        select(Invoice.customer_id)
        .distinct()
        .where(Invoice.tenant_id == tenant_id, any_of(session, Invoice.id, invoice_ids))
    )
    customers = sorted(c for c in touched if c is not None)
    if tenant is not None and customers:
        behaviour_table.rebuild(session, tenant_id, service.business_date(session, tenant), only=customers)
