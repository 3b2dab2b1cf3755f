"""The KPIs computed the slow way, for the tests: every row of the tenant read, figures in Python.

Written from the definitions in docs/reports.md without the aggregates or any code of
``kvitt.reports`` (fractions with ``fractions.Fraction``, rounding by hand), so that a test
comparing the two checks the aggregates, their refresh and the SQL against the definitions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.delivery.models import Delivery
from kvitt.dunning.models import CollectionCase, Reminder
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.ledger.models import JournalEntry, JournalLine
from kvitt.payments.models import Allocation, Payment

GROUP = {"email": "web", "sms": "web", "einvoice": "einvoice", "letter": "letter"}
DIGITAL_SEND = {"email", "sms", "einvoice"}
DIGITAL_PAY = {"bankgiro_online", "autogiro", "swish", "card"}


def rounded(numerator: int, denominator: int, places: int) -> str | None:
    """Half away from zero, written out with integers."""
    if denominator == 0:
        return None
    exact = Fraction(numerator, denominator) * 10**places
    sign = -1 if exact < 0 else 1
    units = int(abs(exact) + Fraction(1, 2))  # floor of |x| + 1/2
    text = str(units).rjust(places + 1, "0")
    whole, frac = text[: len(text) - places], text[len(text) - places :]
    number = f"{whole}.{frac}" if places else whole
    return f"-{number}" if sign < 0 and units else number


def ratio(numerator: int, denominator: int, places: int = 4) -> dict[str, Any]:
    return {"value": rounded(numerator, denominator, places), "numerator": numerator, "denominator": denominator}


def method_of(payment: Payment) -> str:
    if payment.source != "bankgiro":
        return payment.source
    return {1: "bankgiro_online", 2: "bankgiro_online", 3: "bankgiro_paper", 4: "autogiro"}.get(
        (payment.details or {}).get("channel") or 0, "bankgiro_unknown"
    )


def naive_kpis(session: Session, tenant_id: int, start: date, end: date, receivables: str = "1510") -> dict[str, Any]:
    invoices = session.scalars(select(Invoice).where(Invoice.tenant_id == tenant_id)).all()
    issued = [i for i in invoices if i.kind == "invoice" and i.state != "draft" and i.invoice_date]
    cohort = [i for i in issued if start <= i.invoice_date <= end]  # type: ignore[operator]
    in_cohort = {i.id for i in cohort}
    deliveries = session.scalars(select(Delivery).where(Delivery.tenant_id == tenant_id).order_by(Delivery.id)).all()
    first_channel: dict[int, str] = {}
    for d in deliveries:
        if d.document == "invoice" and d.state in ("sent", "delivered") and d.invoice_id not in first_channel:
            first_channel[d.invoice_id] = d.channel
    sent = Counter(first_channel[i.id] for i in cohort if i.id in first_channel)
    for channel in ("email", "sms", "einvoice", "letter"):
        sent.setdefault(channel, 0)
    failures = Counter(d.channel for d in deliveries if d.invoice_id in in_cohort and d.state == "failed")
    events = session.scalars(select(InvoiceEvent).where(InvoiceEvent.tenant_id == tenant_id)).all()
    messages = sum(1 for e in events if e.invoice_id in in_cohort and e.type == "message_received")
    reminders = session.scalars(select(Reminder).where(Reminder.tenant_id == tenant_id)).all()
    cases = session.scalars(select(CollectionCase).where(CollectionCase.tenant_id == tenant_id)).all()

    payments = {p.id: p for p in session.scalars(select(Payment).where(Payment.tenant_id == tenant_id))}
    allocations = session.scalars(select(Allocation).where(Allocation.tenant_id == tenant_id)).all()
    on_invoices: dict[int, int] = defaultdict(int)
    last_paid: dict[int, date] = {}
    for a in allocations:
        if a.kind != "invoice" or a.payment_id is None:
            continue
        payment = payments[a.payment_id]
        if payment.amount > 0:
            on_invoices[payment.id] += a.amount
        if a.invoice_id is not None:
            last_paid[a.invoice_id] = max(last_paid.get(a.invoice_id, payment.date), payment.date)
    counted = [p for p in payments.values() if p.id in on_invoices and start <= p.date <= end]
    pay_counts = Counter(method_of(p) for p in counted)
    pay_amounts: dict[str, int] = defaultdict(int)
    for p in counted:
        pay_amounts[method_of(p)] += on_invoices[p.id]
    pay_total = sum(pay_counts.values())

    paid_n: dict[str, int] = defaultdict(int)
    early_n: dict[str, int] = defaultdict(int)
    late_days: dict[str, int] = defaultdict(int)
    for i in issued:
        on = last_paid.get(i.id)
        if i.state != "paid" or on is None or not start <= on <= end:
            continue
        group = GROUP.get(first_channel.get(i.id, ""), "none")
        after = (on - (i.due_date or on)).days
        for g in (group, "all"):
            paid_n[g] += 1
            late_days[g] += after
            early_n[g] += after <= 0

    # What is open at `end`: each invoice's receivable postings dated on or before it.
    entries = {e.id: e.date for e in session.scalars(select(JournalEntry).where(JournalEntry.tenant_id == tenant_id))}
    by_id = {i.id: i for i in invoices}
    aging = dict.fromkeys(("current", "1_30", "31_60", "61_90", "over_90"), 0)
    lines = session.scalars(select(JournalLine).where(JournalLine.tenant_id == tenant_id)).all()
    for line in lines:
        invoice = by_id.get(line.invoice_id) if line.invoice_id else None
        if line.account != receivables or invoice is None or invoice.kind != "invoice":
            continue
        if entries[line.entry_id] > end:
            continue
        past_due = (end - (invoice.due_date or entries[line.entry_id])).days
        bucket = (
            "current"
            if past_due <= 0
            else "1_30"
            if past_due <= 30
            else "31_60"
            if past_due <= 60
            else "61_90"
            if past_due <= 90
            else "over_90"
        )
        aging[bucket] += line.amount
    outstanding = sum(aging.values())
    invoiced = sum(i.total for i in cohort)
    days = (end - start).days + 1
    total_sent = sum(sent.values())
    groups = ("web", "einvoice", "letter", "none", "all")
    return {
        "object": "kpis",
        "from": start.isoformat(),
        "to": end.isoformat(),
        "currency": "SEK",
        "invoices_issued": len(cohort),
        "invoiced": invoiced,
        "paid": sum(pay_amounts.values()),
        "outstanding": outstanding,
        "overdue": outstanding - aging["current"],
        "aging": {**aging, "total": outstanding},
        "dso_days": ratio(outstanding * days, invoiced, 1),
        "invoices_sent": dict(sorted(sent.items())),
        "digital_send_share": {
            **ratio(sum(n for c, n in sent.items() if c in DIGITAL_SEND), total_sent),
            "by_channel": {c: ratio(n, total_sent) for c, n in sorted(sent.items())},
        },
        "payments": dict(sorted(pay_counts.items())),
        "paid_by_method": dict(sorted(pay_amounts.items())),
        "digital_payment_share": {
            **ratio(sum(n for m, n in pay_counts.items() if m in DIGITAL_PAY), pay_total),
            "by_method": {m: ratio(n, pay_total) for m, n in sorted(pay_counts.items())},
        },
        "invoices_paid": {g: paid_n[g] for g in groups},
        "paid_before_due_share": {g: ratio(early_n[g], paid_n[g]) for g in groups},
        "avg_days_paid_after_due": {g: ratio(late_days[g], paid_n[g], 1) for g in groups},
        "messages": messages,
        "messages_per_1000_invoices": ratio(messages * 1000, len(cohort), 2),
        "reminders_sent": sum(1 for r in reminders if r.invoice_id in in_cohort and r.action == "reminder"),
        "reminder_charges": sum(
            r.fee + r.interest for r in reminders if r.invoice_id in in_cohort and r.action == "reminder"
        ),
        "collection_cases": sum(1 for c in cases if c.invoice_id in in_cohort),
        "collection_principal": sum(c.principal for c in cases if c.invoice_id in in_cohort),
        "delivery_failures": {"total": sum(failures.values()), "by_channel": dict(sorted(failures.items()))},
    }
