"""The tick: the default policy's steps on their days, each once, whoever runs it how often."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.dunning.models import Reminder
from kvitt.dunning.tick import DELIVER_JOB
from kvitt.invoices.models import InvoiceEvent
from tests.dunning.helpers import add_customers, days, issue, tenant_with, tick

DUE = date(2026, 3, 31)


def _reminders(db: Database) -> list[tuple[int, int, date]]:
    with db.transaction() as session:
        return [(r.invoice_id, r.level, r.sent_on) for r in session.scalars(select(Reminder).order_by(Reminder.id))]


def test_default_policy_first_reminder_7_days_after_due_second_14_days_later(db: Database) -> None:
    tenant_id = tenant_with(db)
    (customer,) = add_customers(db, tenant_id, 1)
    (invoice,) = issue(db, tenant_id, [customer], amount=50000, invoice_date=date(2026, 3, 1), due_date=DUE)
    for day in days(date(2026, 3, 25), date(2026, 5, 31)):
        tick(db, tenant_id, day)
    assert _reminders(db) == [(invoice, 1, date(2026, 4, 7)), (invoice, 2, date(2026, 4, 21))]
    with db.transaction() as session:
        events = list(session.scalars(select(InvoiceEvent).where(InvoiceEvent.type == "reminder_sent")))
        assert [(e.data["level"], e.data["fee"], e.data["interest"]) for e in events] == [(1, 0, 0), (2, 0, 0)]
        jobs = list(session.scalars(select(OutboxJob).where(OutboxJob.kind == DELIVER_JOB)))
        assert sorted(j.payload["reminder"] for j in jobs) == sorted(e.data["reminder"] for e in events)


def test_a_second_tick_the_same_day_does_nothing(db: Database) -> None:
    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, 5)
    issue(db, tenant_id, customers, amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    first = tick(db, tenant_id, date(2026, 4, 7))
    second = tick(db, tenant_id, date(2026, 4, 7))
    assert (first.reminders, second.reminders) == (5, 0)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.kind == DELIVER_JOB)) == 5


def test_the_database_refuses_a_second_reminder_of_one_level(db: Database) -> None:
    """The unique key (invoice_id, level), not only the code, stops a step from happening twice."""
    tenant_id = tenant_with(db)
    (customer,) = add_customers(db, tenant_id, 1)
    issue(db, tenant_id, [customer], amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    tick(db, tenant_id, date(2026, 4, 7))
    with pytest.raises(IntegrityError), db.transaction() as session:
        first = session.scalars(select(Reminder)).one()
        copy = {c.name: getattr(first, c.key) for c in Reminder.__table__.columns if c.name != "id"}
        session.add(Reminder(**copy))
        session.flush()


def test_paid_paused_and_not_yet_due_invoices_are_left_alone(db: Database) -> None:
    from kvitt.dunning import service
    from kvitt.payments import service as payments
    from tests.dunning.helpers import load

    tenant_id = tenant_with(db)
    paid, paused, paused_customer, late, dunned = add_customers(db, tenant_id, 5)
    ids = issue(
        db,
        tenant_id,
        [paid, paused, paused_customer, late, dunned],
        amount=10000,
        invoice_date=date(2026, 3, 1),
        due_date=DUE,
    )
    (not_yet,) = issue(db, tenant_id, [late], amount=10000, invoice_date=date(2026, 4, 1), due_date=date(2026, 4, 30))
    with db.transaction() as session:
        tenant = load(session, tenant_id)
        from kvitt.invoices import service as invoices

        payments.pay_invoice(
            session, tenant, invoices.get(session, tenant, ids[0]), 10000, on=DUE, today=DUE, reference=None, actor="t"
        )
        service.pause(session, tenant_id, invoice_id=ids[1], reason="tvist", until=None)
        service.pause(session, tenant_id, customer_id=paused_customer, reason="dödsbo", until=date(2026, 4, 10))
    tick(db, tenant_id, date(2026, 4, 7))
    assert {i for i, _, _ in _reminders(db)} == {ids[3], ids[4]}
    tick(db, tenant_id, date(2026, 4, 11))  # the customer's pause ended on the 10th
    assert {i for i, _, _ in _reminders(db)} == {ids[2], ids[3], ids[4]}
    assert not_yet not in {i for i, _, _ in _reminders(db)}


def test_the_delivery_job_hands_the_reminder_to_delivery(db: Database) -> None:
    """The reminder travels through delivery's request_delivery (reason "reminder"), on the
    customer's own channel when the step names none."""
    import kvitt.dunning.jobs  # noqa: F401 - registers the job handlers, as the worker does
    from kvitt.core.outbox import handler_for
    from kvitt.delivery.models import Delivery

    tenant_id = tenant_with(db)
    (customer,) = add_customers(db, tenant_id, 1)
    (invoice,) = issue(db, tenant_id, [customer], amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    tick(db, tenant_id, date(2026, 4, 7))
    handler = handler_for(DELIVER_JOB)
    assert handler is not None
    with db.transaction() as session:
        (job,) = session.scalars(select(OutboxJob).where(OutboxJob.kind == DELIVER_JOB))
        handler(session, job)
        reminder = session.scalars(select(Reminder)).one()
        deliveries = list(session.scalars(select(Delivery).where(Delivery.invoice_id == invoice)))
        reminded = [d for d in deliveries if d.reminder_id == reminder.id]
        assert len(reminded) == 1 and reminded[0].reason == "reminder" and reminded[0].channel == "email"


def _run_jobs(db: Database, kind: str) -> None:
    from kvitt.core.outbox import handler_for

    handler = handler_for(kind)
    assert handler is not None
    with db.transaction() as session:
        for job in list(session.scalars(select(OutboxJob).where(OutboxJob.kind == kind, OutboxJob.state == "pending"))):
            try:
                with session.begin_nested():
                    handler(session, job)
                    job.state = "done"
            except RuntimeError:
                job.attempts += 1  # as the worker records a failed job; it stays pending


def _reminded(db: Database) -> set[int]:
    from kvitt.delivery.models import Delivery

    with db.transaction() as session:
        return {int(r) for r in session.scalars(select(Delivery.reminder_id).where(Delivery.reminder_id.is_not(None)))}


def test_a_ticks_reminders_go_to_delivery_in_bundles_split_when_one_fails(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From DELIVER_BUNDLE_FROM reminders a tick writes bundles, not a job each; a bundle whose
    delivery fails for one reminder keeps nothing and becomes a job per reminder: the others are
    delivered on their next run, the failing one stays to be retried alone."""
    import kvitt.dunning.jobs  # noqa: F401 - registers the job handlers, as the worker does
    from kvitt.delivery import service as delivery
    from kvitt.dunning import tick as dunning_tick

    monkeypatch.setattr(dunning_tick, "DELIVER_BUNDLE_FROM", 2)
    monkeypatch.setattr(dunning_tick, "DELIVER_BUNDLE_SIZE", 2)
    tenant_id = tenant_with(db)
    customers = add_customers(db, tenant_id, 3)
    invoices = issue(db, tenant_id, customers, amount=10000, invoice_date=date(2026, 3, 1), due_date=DUE)
    assert tick(db, tenant_id, date(2026, 4, 7)).reminders == 3
    with db.transaction() as session:
        kinds = list(session.scalars(select(OutboxJob.kind).where(OutboxJob.kind.like("dunning.deliver%"))))
    assert sorted(kinds) == [dunning_tick.DELIVER_BUNDLE_JOB] * 2  # 2 + 1 reminders
    reminders = {r.invoice_id: r.id for r in _all_reminders(db)}
    real = delivery.request_delivery

    def failing_for_the_first(session: object, tenant: int, invoice: int, **kwargs: object) -> object:
        if invoice == invoices[0]:
            raise RuntimeError("the channel refused it")
        return real(session, tenant, invoice, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(delivery, "request_delivery", failing_for_the_first)
    _run_jobs(db, dunning_tick.DELIVER_BUNDLE_JOB)
    assert _reminded(db) == {reminders[invoices[2]]}  # the bundle of the first two kept nothing
    _run_jobs(db, DELIVER_JOB)  # the split: one job per reminder of the failed bundle
    assert _reminded(db) == {reminders[invoices[1]], reminders[invoices[2]]}
    with db.transaction() as session:
        left = list(
            session.scalars(select(OutboxJob).where(OutboxJob.kind == DELIVER_JOB, OutboxJob.state == "pending"))
        )
    assert [job.payload["reminder"] for job in left] == [reminders[invoices[0]]]
    monkeypatch.setattr(delivery, "request_delivery", real)
    _run_jobs(db, DELIVER_JOB)
    assert _reminded(db) == set(reminders.values())


def _all_reminders(db: Database) -> list[Reminder]:
    with db.transaction() as session:
        found = list(session.scalars(select(Reminder)))
        session.expunge_all()
        return found
