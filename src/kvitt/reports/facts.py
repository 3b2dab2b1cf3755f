"""The KPI aggregates, recomputed one (tenant, day) at a time from the source tables.

A day's rows are a pure function of what the database holds for that day, so recomputing a
day is idempotent: the event subscriber (``reports.jobs``) only marks the days an event
touched as dirty (an ``INSERT … ON CONFLICT DO NOTHING``, harmless to repeat), and a refresh
deletes the tenant's dirty marks and recomputes those days. A refresh running while an event
marks a day again leaves the new mark behind for the next one (on PostgreSQL the mark waits
for the refresh's delete to commit), and its statements run after its delete, so under READ
COMMITTED they see everything the marked events' transactions wrote.

Measures (``DailyFact.measure``) and the day each is keyed on:

=================  ============  ==========================================================
measure            day           count / amount
=================  ============  ==========================================================
issued             invoice date  invoices issued / their totals (öre)
sent (channel)     invoice date  invoices whose first successful delivery went on channel
delivery_failed    invoice date  failed deliveries (any document of the invoice), by channel
messages           invoice date  messages the recipients wrote on those invoices
reminders          invoice date  reminders sent for those invoices / their fees+interest
collection         invoice date  those invoices handed to collection / principal (öre)
payments (method)  payment date  payments put (partly) on invoices / öre put on invoices
paid (group)       paid date     invoices paid in full / Σ (paid date − due date) in days
paid_early (group) paid date     of those, paid on or before the due date / —
=================  ============  ==========================================================

Receivable flows (``ReceivableFlow``): the sum of the tenant's receivable postings (1510) of
invoices (not credit notes: their postings name the invoice they credit) per booking date and
the invoice's due date — the same postings the aging report sums.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Select, delete, distinct, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kvitt.core.db import bulk_insert, is_postgresql
from kvitt.delivery.models import Delivery
from kvitt.dunning.models import CollectionCase, Reminder
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.ledger.models import JournalEntry, JournalLine
from kvitt.ledger.service import receivables_account
from kvitt.payments.models import Allocation, Payment
from kvitt.reports.models import DailyFact, DirtyDay, ReceivableFlow
from kvitt.tenants.models import Tenant

SUCCESSFUL = ("sent", "delivered")
# The channel an invoice reached its recipient on, as the KPIs group it: email and SMS carry the
# link to the web invoice ("web"); no successful delivery is "none".
CHANNEL_GROUP = {"email": "web", "sms": "web", "einvoice": "einvoice", "letter": "letter"}
GROUPS = ("web", "einvoice", "letter", "none")
# BGMax's payment channel code (TK20/21 position 57): 1 and 2 electronic (internet bank,
# leverantörsbetalningar), 3 a paper giro slip, 4 autogiro.
BGMAX_METHOD = {1: "bankgiro_online", 2: "bankgiro_online", 3: "bankgiro_paper", 4: "autogiro"}


def payment_method(source: str, bgmax_channel: int | None) -> str:
    """The payment method a payment is counted under (``docs/reports.md``)."""
    if source == "bankgiro":
        return BGMAX_METHOD.get(bgmax_channel or 0, "bankgiro_unknown")
    return source


def channel_group(channel: str | None) -> str:
    return CHANNEL_GROUP.get(channel or "", "none")


# --- marking and refreshing ---------------------------------------------------------------------


def mark_dirty(session: Session, tenant_id: int, days: Iterable[date]) -> int:
    """Mark days for recomputation (repeating a mark changes nothing); returns how many were named."""
    rows = [{"tenant_id": tenant_id, "day": day} for day in sorted(set(days))]
    if rows:
        dialect: Any = postgresql if is_postgresql(session) else sqlite
        session.execute(dialect.insert(DirtyDay).values(rows).on_conflict_do_nothing())
    return len(rows)


def refresh(session: Session, tenant: Tenant) -> list[date]:
    """Recompute every dirty day of the tenant; returns the days recomputed."""
    taken = session.scalars(delete(DirtyDay).where(DirtyDay.tenant_id == tenant.id).returning(DirtyDay.day)).all()
    days = sorted(set(taken))
    for day in days:
        recompute(session, tenant, day)
    return days


def rebuild(session: Session, tenant: Tenant) -> list[date]:
    """Mark every day that has an invoice, a posting or a payment dirty, then refresh."""
    mark_dirty(session, tenant.id, source_days(session, tenant.id))
    return refresh(session, tenant)


def source_days(session: Session, tenant_id: int) -> set[date]:
    invoice_days = (
        select(Invoice.invoice_date)
        .distinct()
        .where(Invoice.tenant_id == tenant_id, Invoice.invoice_date.is_not(None), Invoice.state != "draft")
    )
    entry_days = select(JournalEntry.date).distinct().where(JournalEntry.tenant_id == tenant_id)
    payment_days = select(Payment.date).distinct().where(Payment.tenant_id == tenant_id)
    days: set[date] = set()
    for query in (invoice_days, entry_days, payment_days):
        days.update(d for d in session.scalars(query) if d is not None)
    return days


def recompute(session: Session, tenant: Tenant, day: date) -> None:
    """Replace the day's facts and flows with what the source tables say now."""
    session.execute(delete(DailyFact).where(DailyFact.tenant_id == tenant.id, DailyFact.day == day))
    session.execute(delete(ReceivableFlow).where(ReceivableFlow.tenant_id == tenant.id, ReceivableFlow.day == day))
    facts = [*cohort_facts(session, tenant.id, day), *payment_facts(session, tenant.id, day)]
    facts += paid_facts(session, tenant.id, day)
    bulk_insert(
        session,
        DailyFact,
        [
            {"tenant_id": tenant.id, "day": day, "measure": m, "dim": d, "count": c, "amount": a}
            for m, d, c, a in facts
            if c or a
        ],
    )
    flows = receivable_flows(session, tenant, day)
    bulk_insert(
        session,
        ReceivableFlow,
        [{"tenant_id": tenant.id, "day": day, "due_date": due, "amount": amount} for due, amount in flows.items()],
    )


# --- one day's figures --------------------------------------------------------------------------

Fact = tuple[str, str, int, int]  # measure, dim, count, amount


def _issued_on(tenant_id: int, day: date) -> Select[Any]:
    return select(Invoice.id).where(
        Invoice.tenant_id == tenant_id,
        Invoice.invoice_date == day,
        Invoice.kind == "invoice",
        Invoice.state != "draft",
    )


def first_channels(tenant_id: int, invoice_ids: Select[Any]) -> Any:
    """(invoice_id, channel) of each invoice's first successful delivery of the invoice itself."""
    first = (
        select(Delivery.invoice_id.label("invoice_id"), func.min(Delivery.id).label("first_id"))
        .where(
            Delivery.tenant_id == tenant_id,
            Delivery.invoice_id.in_(invoice_ids),
            Delivery.document == "invoice",
            Delivery.state.in_(SUCCESSFUL),
        )
        .group_by(Delivery.invoice_id)
        .subquery("first_delivery")
    )
    return (
        select(first.c.invoice_id, Delivery.channel.label("channel"))
        .join(Delivery, Delivery.id == first.c.first_id)
        .subquery("first_channel")
    )


def cohort_facts(session: Session, tenant_id: int, day: date) -> list[Fact]:
    """The facts of the invoices dated ``day``."""
    cohort = _issued_on(tenant_id, day)
    count, total = session.execute(
        select(func.count(Invoice.id), func.coalesce(func.sum(Invoice.total), 0)).where(Invoice.id.in_(cohort))
    ).one()
    facts: list[Fact] = [("issued", "", int(count), int(total))]
    if not count:
        return facts
    channels = first_channels(tenant_id, cohort)
    for channel, n in session.execute(select(channels.c.channel, func.count()).group_by(channels.c.channel)):
        facts.append(("sent", channel, int(n), 0))
    failed = (
        select(Delivery.channel, func.count())
        .where(Delivery.tenant_id == tenant_id, Delivery.invoice_id.in_(cohort), Delivery.state == "failed")
        .group_by(Delivery.channel)
    )
    facts += [("delivery_failed", channel, int(n), 0) for channel, n in session.execute(failed)]
    messages = select(func.count(InvoiceEvent.id)).where(
        InvoiceEvent.tenant_id == tenant_id,
        InvoiceEvent.invoice_id.in_(cohort),
        InvoiceEvent.type == "message_received",
    )
    facts.append(("messages", "", int(session.scalar(messages) or 0), 0))
    reminders = select(func.count(Reminder.id), func.coalesce(func.sum(Reminder.fee + Reminder.interest), 0)).where(
        Reminder.tenant_id == tenant_id, Reminder.invoice_id.in_(cohort), Reminder.action == "reminder"
    )
    n, charged = session.execute(reminders).one()
    facts.append(("reminders", "", int(n), int(charged)))
    cases = select(func.count(CollectionCase.id), func.coalesce(func.sum(CollectionCase.principal), 0)).where(
        CollectionCase.tenant_id == tenant_id, CollectionCase.invoice_id.in_(cohort)
    )
    n, principal = session.execute(cases).one()
    facts.append(("collection", "", int(n), int(principal)))
    return facts


def payment_facts(session: Session, tenant_id: int, day: date) -> list[Fact]:
    """Payments dated ``day`` that were put on invoices, by method: how many, and how much on invoices."""
    channel = Payment.details["channel"].as_integer()
    query = (
        select(Payment.source, channel, func.count(distinct(Payment.id)), func.sum(Allocation.amount))
        .join(Allocation, Allocation.payment_id == Payment.id)
        .where(
            Payment.tenant_id == tenant_id,
            Payment.date == day,
            Payment.amount > 0,
            Allocation.tenant_id == tenant_id,
            Allocation.kind == "invoice",
        )
        .group_by(Payment.source, channel)
    )
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for source, bgmax_channel, n, amount in session.execute(query):
        sums = by_method[payment_method(source, bgmax_channel)]
        sums[0] += int(n)
        sums[1] += int(amount or 0)
    return [("payments", method, n, amount) for method, (n, amount) in sorted(by_method.items())]


def paid_facts(session: Session, tenant_id: int, day: date) -> list[Fact]:
    """Invoices paid in full by a payment dated ``day`` (their last one), by channel group."""
    touched = (
        select(Allocation.invoice_id)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Payment.tenant_id == tenant_id, Payment.date == day, Allocation.kind == "invoice")
    )
    last = (
        select(Allocation.invoice_id.label("invoice_id"), func.max(Payment.date).label("paid_on"))
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Allocation.tenant_id == tenant_id, Allocation.kind == "invoice", Allocation.invoice_id.in_(touched))
        .group_by(Allocation.invoice_id)
        .subquery("last_payment")
    )
    paid = (
        select(Invoice.id)
        .join(last, last.c.invoice_id == Invoice.id)
        .where(
            Invoice.tenant_id == tenant_id, Invoice.kind == "invoice", Invoice.state == "paid", last.c.paid_on == day
        )
    )
    channels = first_channels(tenant_id, paid)
    query = (
        select(Invoice.due_date, channels.c.channel)
        .outerjoin(channels, channels.c.invoice_id == Invoice.id)
        .where(Invoice.id.in_(paid))
    )
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # paid, days after due, early
    for due_date, channel in session.execute(query):
        group = sums[channel_group(channel)]
        after = (day - (due_date or day)).days
        group[0] += 1
        group[1] += after
        group[2] += after <= 0
    facts: list[Fact] = []
    for group_name, (n, days, early) in sorted(sums.items()):
        facts += [("paid", group_name, n, days), ("paid_early", group_name, early, 0)]
    return facts


def receivable_flows(session: Session, tenant: Tenant, day: date) -> dict[date, int]:
    """Receivable postings of invoices booked on ``day``, summed by the invoice's due date."""
    due = func.coalesce(Invoice.due_date, JournalEntry.date)
    query = (
        select(due, func.sum(JournalLine.amount))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(Invoice, Invoice.id == JournalLine.invoice_id)
        .where(
            JournalEntry.tenant_id == tenant.id,
            JournalEntry.date == day,
            JournalLine.tenant_id == tenant.id,
            JournalLine.account == receivables_account(tenant),
            Invoice.tenant_id == tenant.id,
            Invoice.kind == "invoice",
        )
        .group_by(due)
    )
    return {due_date: int(amount) for due_date, amount in session.execute(query) if amount}


# --- which days an event touches ----------------------------------------------------------------

# The invoice events that change a fact or a flow (opened, created, settings ... change none).
COUNTED_EVENTS = frozenset(
    f"invoice.{kind}"
    for kind in (
        "issued",
        "payment",
        "paid",
        "overpayment",
        "credited",
        "written_off",
        "sent",
        "delivered",
        "delivery_failed",
        "letter_sent",
        "reminder_sent",
        "in_collection",
        "collection_payment",
        "collection_ended",
        "message_received",
    )
)


def touched_days(session: Session, tenant_id: int, events: list[dict[str, Any]]) -> set[date]:
    """The days whose facts the events may have changed: each invoice's date and every date its
    receivable was booked on (issue, payments, credits, write-offs), and the payments' dates."""
    counted = [e for e in events if e.get("type") in COUNTED_EVENTS and e.get("invoice_id")]
    ids = {int(e["invoice_id"]) for e in counted}
    ids |= {int(e["data"]["credits"]) for e in counted if isinstance(e.get("data"), dict) and e["data"].get("credits")}
    days = {
        date.fromisoformat(e["data"]["date"])
        for e in counted
        if e["type"] == "invoice.payment" and e["data"].get("date")
    }
    if not ids:
        return days
    wanted = sorted(ids)
    invoice_days = select(Invoice.invoice_date).distinct().where(Invoice.tenant_id == tenant_id, Invoice.id.in_(wanted))
    days.update(d for d in session.scalars(invoice_days) if d is not None)
    posting_days = (
        select(JournalEntry.date)
        .distinct()
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(
            JournalEntry.tenant_id == tenant_id, JournalLine.tenant_id == tenant_id, JournalLine.invoice_id.in_(wanted)
        )
    )
    days.update(session.scalars(posting_days))
    return days
