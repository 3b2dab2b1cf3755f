"""What the worker does for webhooks: fan domain events out, and send the deliveries' attempts.

Both run a batch at a time: ``fan_out`` gets a tenant's claimed domain events as one list
(``core.events.subscribe_batch``), ``deliver`` every claimed ``webhooks.deliver`` job of a
tenant (``core.outbox.handles_batch``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import JobFailures, OutboxJob, finish, handles_batch
from kvitt.webhooks import sender, service

# Events per set-based step: a worker batch of event bundles can hand over far more events than
# one IN list should hold (SQLite and PostgreSQL bound the parameters of a statement).
CHUNK = 500
# Deliveries planned, sent and recorded at a time. A deliver job carries up to an endpoint's
# max_batch_size (100) deliveries, so a worker batch of 500 jobs can name 50,000 of them; held at
# once (objects and bodies) they took a billing day's worker from 150 to 263 MB at 15,000.
DELIVERIES_AT_ONCE = 2000


@subscribe_batch("")
def fan_out(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), CHUNK):
        service.publish_many(session, tenant_id, events[start : start + CHUNK])


@handles_batch(service.DELIVER_JOB)
def deliver(session: Session, jobs: list[OutboxJob]) -> JobFailures | None:
    """Read what to send, end the transaction, send it all concurrently, record each attempt;
    a part of at most DELIVERIES_AT_ONCE deliveries at a time.

    No transaction is open during the HTTP requests: a slow endpoint must not hold the database
    (on SQLite every transaction holds the write lock). The commit before them only makes the
    "endpoint disabled" marks final; the jobs stay ours (state running, our lease). A worker
    killed after a request and before the record's commit sends it again when the job is taken
    over: at least once, with the same event id (docs/webhooks.md).
    """
    tenant_ids = {job.tenant_id for job in jobs}
    tenant_id = tenant_ids.pop()
    assert tenant_id is not None and not tenant_ids, "the worker gives a batch handler one tenant's jobs"
    parts = _parts(jobs)
    worker_id = jobs[0].locked_by  # the worker's own claim, read before any commit
    for number, part in enumerate(parts, start=1):
        requests = service.plan_attempts(session, tenant_id, part)
        if requests:
            session.commit()
            outcomes = sender.post_many([request.outgoing for request in requests])
            service.record_outcomes(session, list(zip(requests, outcomes, strict=True)))
        if number < len(parts):
            # Done with their outcomes in one commit, as the worker does for the last part: a
            # worker killed later runs only the parts after this one again.
            finish(session, [job.id for job in part], worker_id)
            session.commit()
    return None


def _parts(jobs: list[OutboxJob]) -> list[list[OutboxJob]]:
    """The jobs in order, in parts of at most DELIVERIES_AT_ONCE deliveries (a job is never split)."""
    parts: list[list[OutboxJob]] = [[]]
    held = 0
    for job in sorted(jobs, key=lambda j: j.id):
        size = len(service.delivery_ids_of(job.payload))
        if parts[-1] and held + size > DELIVERIES_AT_ONCE:
            parts.append([])
            held = 0
        parts[-1].append(job)
        held += size
    return parts
