"""What the worker does for webhooks: fan domain events out, and send the deliveries' attempts.

Both run a batch at a time: ``fan_out`` gets a tenant's claimed domain events as one list
(``core.events.subscribe_batch``), ``deliver`` every claimed ``webhooks.deliver`` job of a
tenant (``core.outbox.handles_batch``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kvitt.core.events import subscribe_batch
from kvitt.core.outbox import JobFailures, OutboxJob, handles_batch
from kvitt.webhooks import sender, service

# Events per set-based step: a worker batch of event bundles can hand over far more events than
# one IN list should hold (SQLite and PostgreSQL bound the parameters of a statement).
CHUNK = 500


@subscribe_batch("")
def fan_out(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), CHUNK):
        service.publish_many(session, tenant_id, events[start : start + CHUNK])


@handles_batch(service.DELIVER_JOB)
def deliver(session: Session, jobs: list[OutboxJob]) -> JobFailures | None:
    """Read what to send, end the transaction, send it all concurrently, record each attempt.

    No transaction is open during the HTTP requests: a slow endpoint must not hold the database
    (on SQLite every transaction holds the write lock). The commit before them only makes the
    "endpoint disabled" marks final; the jobs stay ours (state running, our lease). A worker
    killed after a request and before the record's commit sends it again when the job is taken
    over: at least once, with the same event id (docs/webhooks.md).
    """
    tenant_ids = {job.tenant_id for job in jobs}
    tenant_id = tenant_ids.pop()
    assert tenant_id is not None and not tenant_ids, "the worker gives a batch handler one tenant's jobs"
    requests = service.plan_attempts(session, tenant_id, jobs)
    if not requests:
        return None
    session.commit()
    outcomes = sender.post_many([request.outgoing for request in requests])
    service.record_outcomes(session, list(zip(requests, outcomes, strict=True)))
    return None
