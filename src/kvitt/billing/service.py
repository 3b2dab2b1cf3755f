"""Billing runs: invoice every subscription due on a date, exactly once, in batches.

How a run stays correct when it is killed, rerun, or shared by several workers:

- A subscription is due on D while its billing pointer ``next_period_start`` is on or before D.
  A batch locks the due subscriptions it takes (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
  SQLite's write lock serialises whole transactions), creates and issues their invoices through
  ``invoices.batch.create_and_issue``, records each period in ``billing_periods`` and moves the
  pointers, all in one transaction. A batch lands whole or not at all; a killed process loses
  only its open batch, whose invoice numbers roll back with it, so the series has no gap.
- ``billing_periods`` has a UNIQUE key on (subscription, period start): even a bug that took a
  subscription twice could not commit a second invoice for a period.
- A run is split by customer (``customer_id % partitions``); each partition is a chain of outbox
  jobs, one batch each, so workers share a run, and a dead worker's batch is taken over when its
  lease ends. ``kvitt bill`` runs the same batches in its own process.
- Memory is one batch: nothing is collected across batches but counters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from kvitt.billing.models import DONE, RUNNING, BilledPeriod, BillingRun
from kvitt.core.db import Database, any_of, bulk_insert, is_postgresql, utcnow
from kvitt.core.errors import KvittError, NotFound
from kvitt.core.outbox import enqueue
from kvitt.core.pagination import Page, paginate
from kvitt.invoices.batch import create_and_issue
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import InfoBlock, InvoiceCreate, LineIn
from kvitt.subscriptions.charges import Plan, Version, charges, next_start_after, periods_due
from kvitt.subscriptions.models import PeriodInfo, Subscription, SubscriptionLine, SubscriptionPause
from kvitt.subscriptions.periods import Span
from kvitt.tenants.models import Tenant

PARTITION_JOB = "billing.partition"
BATCH_SIZE = 1000
# What a billing run grows, whose planner statistics are refreshed after it (``Database.analyze``).
WRITTEN_TABLES = (
    "invoices",
    "invoice_lines",
    "invoice_events",
    "journal_entries",
    "journal_lines",
    "billing_periods",
)
MAX_RECORDED_ERRORS = 100
QUANTITY_SCALE = Decimal(1000)


@dataclass
class BatchOutcome:
    last_id: int | None  # the highest subscription id looked at; None: the partition is done
    subscriptions: int = 0
    invoices: int = 0
    without_charge: int = 0
    net: int = 0
    vat: int = 0
    total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


# --- runs ---------------------------------------------------------------------------------------


def get(session: Session, tenant: Tenant, run_id: int) -> BillingRun:
    run = session.scalar(select(BillingRun).where(BillingRun.tenant_id == tenant.id, BillingRun.id == run_id))
    if run is None:
        raise NotFound(f"no billing run {run_id}", param="billing_run")
    return run


def list_page(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[BillingRun]:
    query = select(BillingRun).where(BillingRun.tenant_id == tenant.id)
    return paginate(session, query, BillingRun.id, limit=limit, starting_after=starting_after)


def count_due(session: Session, tenant: Tenant, run_date: date) -> int:
    return int(
        session.scalar(
            select(func.count(Subscription.id)).where(
                Subscription.tenant_id == tenant.id, Subscription.next_period_start <= run_date
            )
        )
        or 0
    )


def start_run(
    session: Session, tenant: Tenant, run_date: date, *, actor: str, partitions: int = 1, as_jobs: bool = True
) -> BillingRun:
    """Record a run; with ``as_jobs`` its partitions are queued for the workers."""
    run = BillingRun(
        tenant_id=tenant.id,
        run_date=run_date,
        state=RUNNING,
        actor=actor,
        partitions=partitions,
        partitions_done=0,
        subscriptions_due=count_due(session, tenant, run_date),
        invoices=0,
        periods_without_charge=0,
        total=0,
        net=0,
        vat=0,
        error_count=0,
        errors=[],
    )
    session.add(run)
    session.flush()
    if as_jobs:
        for partition in range(partitions):
            queue_batch(session, run, partition, after_id=0)
    return run


def unfinished_run(session: Session, tenant: Tenant, run_date: date) -> BillingRun | None:
    """The latest run of this date that did not finish (its process died): resume it."""
    return session.scalar(
        select(BillingRun)
        .where(BillingRun.tenant_id == tenant.id, BillingRun.run_date == run_date, BillingRun.state == RUNNING)
        .order_by(BillingRun.id.desc())
        .limit(1)
    )


def queue_batch(session: Session, run: BillingRun, partition: int, *, after_id: int) -> None:
    payload = {"run": run.id, "partition": partition, "after": after_id}
    key = f"{PARTITION_JOB}:{run.id}:{partition}:{after_id}"
    enqueue(session, PARTITION_JOB, payload, tenant_id=run.tenant_id, dedupe_key=key)


def finish_partition(session: Session, run: BillingRun) -> None:
    session.execute(
        update(BillingRun)
        .where(BillingRun.id == run.id)
        .values(partitions_done=BillingRun.partitions_done + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(run)
    if run.partitions_done >= run.partitions and run.state != DONE:
        run.state = DONE
        run.finished_at = utcnow()


def duration_seconds(run: BillingRun) -> float:
    end = run.finished_at or utcnow()
    return round((end - run.started_at).total_seconds(), 3)


# --- one batch ----------------------------------------------------------------------------------


def bill_batch(
    session: Session, tenant: Tenant, run: BillingRun, *, partition: int, after_id: int, limit: int = BATCH_SIZE
) -> BatchOutcome:
    """Bill the next ``limit`` due subscriptions of a partition (ids after ``after_id``)."""
    subscriptions = _take_due(session, tenant, run, partition=partition, after_id=after_id, limit=limit)
    if not subscriptions:
        return BatchOutcome(last_id=None)
    outcome = BatchOutcome(last_id=subscriptions[-1]["id"], subscriptions=len(subscriptions))
    plans = _plans(session, tenant, [s["id"] for s in subscriptions], subscriptions)
    try:
        with session.begin_nested():
            _bill(session, tenant, run, subscriptions, plans, outcome)
    except KvittError:
        # One bad subscription must not stop the others: bill them one by one and record it.
        outcome.invoices = outcome.without_charge = outcome.net = outcome.vat = outcome.total = 0
        for one in subscriptions:
            try:
                with session.begin_nested():
                    _bill(session, tenant, run, [one], plans, outcome)
            except KvittError as exc:
                error = {"subscription": one["id"], "customer": one["customer_id"], "message": exc.message}
                outcome.errors.append({**error, "param": exc.param})
    _count(session, run, outcome)
    if len(subscriptions) < limit:
        outcome.last_id = None
    return outcome


def _take_due(
    session: Session, tenant: Tenant, run: BillingRun, *, partition: int, after_id: int, limit: int
) -> list[dict[str, Any]]:
    query = (
        select(
            Subscription.id,
            Subscription.customer_id,
            Subscription.interval,
            Subscription.anchor_date,
            Subscription.end_date,
            Subscription.binding_until,
            Subscription.next_period_start,
            Subscription.payment_terms_days,
        )
        .where(
            Subscription.tenant_id == tenant.id,
            Subscription.next_period_start <= run.run_date,
            Subscription.id > after_id,
        )
        .order_by(Subscription.id)
        .limit(limit)
    )
    if run.partitions > 1:
        query = query.where(Subscription.customer_id % run.partitions == partition)
    if is_postgresql(session):
        # Another process on the same run takes other rows; its rows are billed by it.
        query = query.with_for_update(skip_locked=True)
    return [dict(row._mapping) for row in session.execute(query)]


def _plans(session: Session, tenant: Tenant, ids: list[int], subscriptions: list[dict[str, Any]]) -> dict[int, Plan]:
    versions: dict[int, list[Version]] = {i: [] for i in ids}
    for row in session.execute(
        select(
            SubscriptionLine.subscription_id,
            SubscriptionLine.position,
            SubscriptionLine.item_id,
            SubscriptionLine.description,
            SubscriptionLine.quantity_milli,
            SubscriptionLine.unit,
            SubscriptionLine.unit_price,
            SubscriptionLine.vat_rate,
            SubscriptionLine.account,
            SubscriptionLine.valid_from,
            SubscriptionLine.valid_to,
        ).where(SubscriptionLine.tenant_id == tenant.id, any_of(session, SubscriptionLine.subscription_id, ids))
    ):
        versions[row[0]].append(Version(*row[1:]))
    pauses: dict[int, list[Span]] = {i: [] for i in ids}
    for sub_id, start, end in session.execute(
        select(SubscriptionPause.subscription_id, SubscriptionPause.start, SubscriptionPause.end).where(
            SubscriptionPause.tenant_id == tenant.id, any_of(session, SubscriptionPause.subscription_id, ids)
        )
    ):
        pauses[sub_id].append(Span(start, end))
    return {
        s["id"]: Plan(s["interval"], s["anchor_date"], s["end_date"], versions[s["id"]], pauses[s["id"]])
        for s in subscriptions
    }


def _bill(
    session: Session,
    tenant: Tenant,
    run: BillingRun,
    subscriptions: list[dict[str, Any]],
    plans: dict[int, Plan],
    outcome: BatchOutcome,
) -> None:
    infos = _period_infos(session, tenant, [s["id"] for s in subscriptions])
    inputs: list[InvoiceCreate] = []
    periods: list[dict[str, Any]] = []  # billing_periods rows; invoice_id filled below
    invoiced: list[dict[str, Any]] = []  # the rows that get an invoice, in input order
    pointers: list[tuple[int, date | None]] = []
    for sub in subscriptions:
        plan = plans[sub["id"]]
        pointer = sub["next_period_start"]
        for start, end in periods_due(plan, pointer, run.run_date):
            row = {
                "tenant_id": tenant.id,
                "subscription_id": sub["id"],
                "period_start": start,
                "period_end": end,
                "invoice_id": None,
                "billing_run_id": run.id,
            }
            periods.append(row)
            lines = charges(plan, start, end)
            if lines:
                inputs.append(_invoice_input(sub, start, end, lines, infos.get((sub["id"], start), []), run.run_date))
                invoiced.append(row)
            pointer = next_start_after(plan, end)
        pointers.append((sub["id"], pointer))
    invoice_ids = create_and_issue(session, tenant, inputs, today=run.run_date, actor=f"billing_run:{run.id}")
    for row, invoice_id in zip(invoiced, invoice_ids, strict=True):
        row["invoice_id"] = invoice_id
    bulk_insert(session, BilledPeriod, periods)
    _move_pointers(session, pointers)
    outcome.invoices += len(invoice_ids)
    outcome.without_charge += len(periods) - len(invoice_ids)
    if invoice_ids:
        net, vat, total = session.execute(
            select(func.sum(Invoice.net), func.sum(Invoice.vat), func.sum(Invoice.total)).where(
                Invoice.tenant_id == tenant.id, any_of(session, Invoice.id, invoice_ids)
            )
        ).one()
        outcome.net += int(net or 0)
        outcome.vat += int(vat or 0)
        outcome.total += int(total or 0)


def _invoice_input(
    sub: dict[str, Any], start: date, end: date, lines: list[Any], info: list[dict[str, str]], run_date: date
) -> InvoiceCreate:
    blocks = [InfoBlock.model_construct(title=b["title"], text=b["text"]) for b in info]
    binding = sub["binding_until"]
    if binding is not None and binding > start:
        last_day = binding - timedelta(days=1)
        blocks.append(InfoBlock.model_construct(title="Bindningstid", text=f"Avtalet gäller till och med {last_day}"))
    # Built without validation: every value comes from rows the subscription service checked.
    return InvoiceCreate.model_construct(
        customer=sub["customer_id"],
        lines=[
            LineIn.model_construct(
                item=c.version.item_id,
                description=c.description,
                quantity=Decimal(c.version.quantity_milli) / QUANTITY_SCALE,
                unit=c.version.unit,
                unit_price=c.unit_price,
                vat_rate=c.version.vat_rate,
                discount_percent=None,
                account=c.version.account,
            )
            for c in lines
        ],
        currency="SEK",
        invoice_date=run_date,
        due_date=None,
        payment_terms_days=sub["payment_terms_days"],
        invoice_fee=None,
        notes=None,
        info=blocks,
        metadata={
            "subscription": sub["id"],
            "period_start": start.isoformat(),
            "period_end": (end - timedelta(days=1)).isoformat(),
        },
    )


def _period_infos(session: Session, tenant: Tenant, ids: list[int]) -> dict[tuple[int, date], list[dict[str, str]]]:
    rows = session.execute(
        select(PeriodInfo.subscription_id, PeriodInfo.period_start, PeriodInfo.blocks).where(
            PeriodInfo.tenant_id == tenant.id, any_of(session, PeriodInfo.subscription_id, ids)
        )
    )
    return {(sub_id, start): blocks for sub_id, start, blocks in rows}


def _move_pointers(session: Session, pointers: list[tuple[int, date | None]]) -> None:
    if not pointers:
        return
    if is_postgresql(session):
        # One statement for the batch instead of one UPDATE per subscription.
        session.execute(
            text(
                "UPDATE subscriptions SET next_period_start = u.next "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:nexts AS date[])) AS u(id, next) "
                "WHERE subscriptions.id = u.id"
            ),
            {"ids": [p[0] for p in pointers], "nexts": [p[1] for p in pointers]},
        )
        return
    session.execute(
        update(Subscription).execution_options(synchronize_session=False),
        [{"id": sub_id, "next_period_start": nxt} for sub_id, nxt in pointers],
    )


def _count(session: Session, run: BillingRun, outcome: BatchOutcome) -> None:
    # Workers sharing the run add to its counters one at a time (the row lock), none lost.
    session.refresh(run, with_for_update=True)
    run.net += outcome.net
    run.vat += outcome.vat
    run.total += outcome.total
    run.invoices += outcome.invoices
    run.periods_without_charge += outcome.without_charge
    if outcome.errors:
        run.error_count += len(outcome.errors)
        room = MAX_RECORDED_ERRORS - len(run.errors)
        if room > 0:
            run.errors = [*run.errors, *outcome.errors[:room]]
    session.flush()


# --- a whole run in one process (the CLI) -------------------------------------------------------


def run_in_process(
    db: Database,
    tenant_id: int,
    run_date: date,
    *,
    actor: str,
    partitions: int = 1,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Bill every due subscription, one transaction per batch; resumes an unfinished run of the date.

    ``progress(done, due)`` is called after each batch. Returns the run's id.
    """
    with db.transaction() as session:
        tenant = _tenant(session, tenant_id)
        run = unfinished_run(session, tenant, run_date)
        if run is None:
            run = start_run(session, tenant, run_date, actor=actor, partitions=partitions, as_jobs=False)
        run_id, due, parts = run.id, run.subscriptions_due, run.partitions
    done = 0
    for partition in range(parts):
        after: int | None = 0
        while after is not None:
            with db.transaction() as session:
                tenant = _tenant(session, tenant_id)
                run = _lock_run(session, run_id)
                outcome = bill_batch(session, tenant, run, partition=partition, after_id=after, limit=batch_size)
                if outcome.last_id is None:
                    finish_partition(session, run)
            if done == 0 and outcome.subscriptions:
                db.analyze(WRITTEN_TABLES)  # the worker starts on the first batch's jobs at once
            after = outcome.last_id
            done += outcome.subscriptions
            if progress is not None:
                progress(done, due)
    if done:
        db.analyze(WRITTEN_TABLES)
    return run_id


def _tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}", param="tenant")
    return tenant


def _lock_run(session: Session, run_id: int) -> BillingRun:
    run = session.get(BillingRun, run_id)
    if run is None:
        raise NotFound(f"no billing run {run_id}", param="billing_run")
    return run
