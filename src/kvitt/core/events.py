"""Domain events and their subscribers: the one direction the event flow has.

A feature that changes something records a domain event in the outbox (``publish``), in the
business transaction. The worker hands the events to the subscribers that features register
here, many at a time: every claimed event of one tenant goes to each subscriber as one list,
in one transaction, so a subscriber loads what it needs and writes its results with set-based
queries (one statement per batch, not per event). Core knows no feature: features import
this module, never the other way round.

A bulk command (a billing run, a billing file, a BGMax file) publishes hundreds of events at
once; those go into the outbox as bundles (``domain_events``: up to 500 events in one row)
instead of one row each, so the command writes a handful of outbox rows per batch, not one
per event. Everything else is the same: the worker hands a bundle's events to the subscribers
in one transaction.

When a batch fails, the worker rolls it back and runs each job again alone; a bundle that
fails alone is split into one job per event, so one bad event is retried by itself and never
holds back the others. Subscribers must therefore be idempotent per event: ``event_job_id``
names the event (the job's id, or ``"<bundle id>.<index>"``) and stays the same when its job
runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.orm import Session

from kvitt.core.outbox import OutboxJob, enqueue_rows, handles_batch, weighs

log = structlog.get_logger("kvitt.events")

DOMAIN_EVENT_JOB = "domain_event"
DOMAIN_EVENTS_JOB = "domain_events"  # a bundle: {"events": [...]}
# From this many events in one publish, bundles; a few events (one API request) keep a row each.
BUNDLE_FROM = 50
BUNDLE_SIZE = 500
# A bundle counts as this many jobs in a worker's claim: with the default batch of 500 a worker
# takes at most five bundles (2,500 events) at a time and leaves a billing run's other bundles to
# other workers. Two at a time cost one worker alone ~20 % more CPU per invoice at 5,000 invoices
# (more rounds of claims and dispatch); five cost nothing measurable (bench/RESULTS.md).
BUNDLE_CLAIM_WEIGHT = BUNDLE_SIZE // 5

Event = dict[str, Any]
# Called with the tenant and that tenant's events of the prefix, in the order they happened.
BatchSubscriber = Callable[[Session, int, list[Event]], None]
Subscriber = Callable[[Session, int | None, Event], None]
_subscribers: list[tuple[str, BatchSubscriber]] = []


def subscribe_batch(prefix: str) -> Callable[[BatchSubscriber], BatchSubscriber]:
    """Call the decorated function with every batch of events whose type starts with ``prefix``."""

    def register(subscriber: BatchSubscriber) -> BatchSubscriber:
        _subscribers.append((prefix, subscriber))
        return subscriber

    return register


def subscribe(prefix: str) -> Callable[[Subscriber], Subscriber]:
    """One event at a time, for subscribers that have nothing to gain from a batch."""

    def register(subscriber: Subscriber) -> Subscriber:
        def each(session: Session, tenant_id: int, events: list[Event]) -> None:
            for event in events:
                subscriber(session, tenant_id, event)

        _subscribers.append((prefix, each))
        return subscriber

    return register


def publish(session: Session, tenant_id: int, events: list[Event], *, bundle: bool = False) -> None:
    """Record domain events (``{"type", ...}``) in the outbox, in the caller's transaction.

    ``bundle`` puts even a few events into one bundle: a delivery send batch publishes its
    ``invoice.sent`` events that way, with its jobs.
    """
    if not events:
        return
    if len(events) < BUNDLE_FROM and not (bundle and len(events) > 1):
        enqueue_rows(session, [{"tenant_id": tenant_id, "kind": DOMAIN_EVENT_JOB, "payload": e} for e in events])
        return
    bundles = [events[i : i + BUNDLE_SIZE] for i in range(0, len(events), BUNDLE_SIZE)]
    enqueue_rows(
        session, [{"tenant_id": tenant_id, "kind": DOMAIN_EVENTS_JOB, "payload": {"events": b}} for b in bundles]
    )


def dispatch(session: Session, tenant_id: int, events: list[Event]) -> int:
    """Hand one tenant's events to their subscribers; returns how many subscriber calls there were."""
    calls = 0
    for prefix, subscriber in _subscribers:
        matching = [e for e in events if str(e.get("type", "")).startswith(prefix)]
        if matching:
            subscriber(session, tenant_id, matching)
            calls += 1
    return calls


@handles_batch(DOMAIN_EVENT_JOB)
def run_domain_events(session: Session, jobs: list[OutboxJob]) -> None:
    # The worker gives a batch handler the jobs of one tenant. The job's id names the event:
    # subscribers that must act once per event (webhooks, event chains) dedupe on it.
    events = [{**job.payload, "event_job_id": job.id} for job in jobs if job.tenant_id is not None]
    if events:
        tenant_id = jobs[0].tenant_id
        assert tenant_id is not None
        dispatch(session, tenant_id, events)


weighs(DOMAIN_EVENTS_JOB, BUNDLE_CLAIM_WEIGHT)


@handles_batch(DOMAIN_EVENTS_JOB)
def run_event_bundles(session: Session, jobs: list[OutboxJob]) -> None:
    tenant_id = jobs[0].tenant_id
    assert tenant_id is not None
    events = [
        {**event, "event_job_id": f"{job.id}.{index}"}
        for job in jobs
        for index, event in enumerate(job.payload["events"])
    ]
    if len(jobs) > 1:
        dispatch(session, tenant_id, events)  # if this raises, the worker runs each bundle alone
        return
    try:
        with session.begin_nested():
            dispatch(session, tenant_id, events)
    except Exception as exc:
        # May swallow any subscriber's error, but only to retry: each event becomes its own job,
        # and the one that fails again records its reason on that job (and in the log).
        log.warning("event bundle failed, splitting it into one job per event", job=jobs[0].id, error=str(exc)[:500])
        # One of the bundle's events fails: nothing of the bundle was kept (the savepoint), so
        # each event becomes a job of its own and the good ones go through on their next run.
        enqueue_rows(
            session,
            [{"tenant_id": tenant_id, "kind": DOMAIN_EVENT_JOB, "payload": e} for e in jobs[0].payload["events"]],
        )
