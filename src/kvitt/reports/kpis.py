"""The KPIs of a period, read from the daily facts and the receivable flows (``reports.facts``).

One call reads two small aggregates: the facts of the days in the period (grouped by measure
and dimension) and the receivable flows up to the period's last day (grouped by due date). No
invoice is read. The API, the CSV export and the back office's Översikt all call ``kpis``.

Money is integer öre. Every share, average and rate is a :class:`Ratio`: the exact fraction
(numerator and denominator, integers) and its value as a decimal string rounded half up to a
fixed number of places, ``None`` when the denominator is zero. See docs/reports.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvitt.reports import facts
from kvitt.reports.aging import BUCKETS, bucket_of
from kvitt.reports.models import DailyFact, ReceivableFlow
from kvitt.tenants.models import Tenant

SEND_CHANNELS = ("email", "sms", "einvoice", "letter")
DIGITAL_CHANNELS = frozenset({"email", "sms", "einvoice"})
DIGITAL_METHODS = frozenset({"bankgiro_online", "autogiro", "swish", "card"})
SHARE_PLACES = 4
DAYS_PLACES = 1
MAX_PERIOD_DAYS = 3661


@dataclass(frozen=True)
class Ratio:
    """An exact fraction, shown as a decimal rounded half up to ``places``."""

    numerator: int
    denominator: int
    places: int = SHARE_PLACES

    @property
    def value(self) -> Decimal | None:
        if self.denominator == 0:
            return None
        exact = Decimal(self.numerator) / Decimal(self.denominator)
        return exact.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)

    def as_json(self) -> dict[str, Any]:
        value = self.value
        return {
            "value": None if value is None else str(value),
            "numerator": self.numerator,
            "denominator": self.denominator,
        }


@dataclass(frozen=True)
class Kpis:
    start: date
    end: date
    invoices_issued: int
    invoiced: int
    paid: int
    outstanding: int
    overdue: int
    aging: dict[str, int]
    dso_days: Ratio
    invoices_sent: dict[str, int]
    digital_send_share: Ratio
    send_share_by_channel: dict[str, Ratio]
    payments: dict[str, int]
    paid_by_method: dict[str, int]
    digital_payment_share: Ratio
    payment_share_by_method: dict[str, Ratio]
    invoices_paid: dict[str, int]
    paid_before_due_share: dict[str, Ratio]
    avg_days_paid_after_due: dict[str, Ratio]
    messages: int
    messages_per_1000_invoices: Ratio
    reminders_sent: int
    reminder_charges: int
    collection_cases: int
    collection_principal: int
    delivery_failures: dict[str, int] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class Sums:
    """The period's facts: (measure, dim) → [count, amount]."""

    def __init__(self, rows: list[tuple[str, str, int, int]]) -> None:
        self.rows: dict[tuple[str, str], tuple[int, int]] = {(m, d): (int(c), int(a)) for m, d, c, a in rows}

    def count(self, measure: str, dim: str = "") -> int:
        return self.rows.get((measure, dim), (0, 0))[0]

    def amount(self, measure: str, dim: str = "") -> int:
        return self.rows.get((measure, dim), (0, 0))[1]

    def dims(self, measure: str) -> list[str]:
        return sorted(d for m, d in self.rows if m == measure)


def kpis(session: Session, tenant: Tenant, start: date, end: date) -> Kpis:
    """The KPIs of the days ``start`` to ``end`` (both included); stocks as of ``end``."""
    if start > end:
        raise ValueError("the period starts after it ends")
    sums = period_sums(session, tenant.id, start, end)
    open_by_due = receivables_at(session, tenant.id, end)
    aging = dict.fromkeys(BUCKETS, 0)
    for due_date, amount in open_by_due.items():
        aging[bucket_of(due_date, end)] += amount
    outstanding = sum(aging.values())
    issued, invoiced = sums.count("issued"), sums.amount("issued")
    days = (end - start).days + 1
    return Kpis(
        start=start,
        end=end,
        invoices_issued=issued,
        invoiced=invoiced,
        paid=sum(sums.amount("payments", m) for m in sums.dims("payments")),
        outstanding=outstanding,
        overdue=outstanding - aging["current"],
        aging=aging,
        dso_days=Ratio(outstanding * days, invoiced, DAYS_PLACES),
        **_sending(sums),
        **_payments(sums),
        **_paid_timing(sums),
        messages=sums.count("messages"),
        messages_per_1000_invoices=Ratio(sums.count("messages") * 1000, issued, 2),
        reminders_sent=sums.count("reminders"),
        reminder_charges=sums.amount("reminders"),
        collection_cases=sums.count("collection"),
        collection_principal=sums.amount("collection"),
        delivery_failures={c: sums.count("delivery_failed", c) for c in sums.dims("delivery_failed")},
    )


def current(session: Session, tenant: Tenant, start: date, end: date) -> Kpis:
    """Recompute the days events have marked since the last refresh, then read: what the API,
    its CSV and the back office answer (a write: the caller's transaction must allow one)."""
    facts.refresh(session, tenant)
    return kpis(session, tenant, start, end)


def current_trend(session: Session, tenant: Tenant, end: date, count: int = 12) -> list[Kpis]:
    """The same for each of ``count`` calendar months up to ``end`` (the last one ends on ``end``)."""
    facts.refresh(session, tenant)
    return monthly(session, tenant, end, count)


def period_sums(session: Session, tenant_id: int, start: date, end: date) -> Sums:
    query = (
        select(DailyFact.measure, DailyFact.dim, func.sum(DailyFact.count), func.sum(DailyFact.amount))
        .where(DailyFact.tenant_id == tenant_id, DailyFact.day >= start, DailyFact.day <= end)
        .group_by(DailyFact.measure, DailyFact.dim)
    )
    return Sums([tuple(row) for row in session.execute(query)])  # type: ignore[misc]


def receivables_at(session: Session, tenant_id: int, as_of: date) -> dict[date, int]:
    """What was open at the end of ``as_of``, by due date (invoices whose flows sum to 0 left out)."""
    query = (
        select(ReceivableFlow.due_date, func.sum(ReceivableFlow.amount))
        .where(ReceivableFlow.tenant_id == tenant_id, ReceivableFlow.day <= as_of)
        .group_by(ReceivableFlow.due_date)
    )
    return {due: int(amount) for due, amount in session.execute(query) if amount}


def _sending(sums: Sums) -> dict[str, Any]:
    sent = {c: sums.count("sent", c) for c in sorted({*SEND_CHANNELS, *sums.dims("sent")})}
    total = sum(sent.values())
    digital = sum(n for c, n in sent.items() if c in DIGITAL_CHANNELS)
    return {
        "invoices_sent": sent,
        "digital_send_share": Ratio(digital, total),
        "send_share_by_channel": {c: Ratio(n, total) for c, n in sent.items()},
    }


def _payments(sums: Sums) -> dict[str, Any]:
    methods = sums.dims("payments")
    counts = {m: sums.count("payments", m) for m in methods}
    total = sum(counts.values())
    return {
        "payments": counts,
        "paid_by_method": {m: sums.amount("payments", m) for m in methods},
        "digital_payment_share": Ratio(sum(n for m, n in counts.items() if m in DIGITAL_METHODS), total),
        "payment_share_by_method": {m: Ratio(n, total) for m, n in counts.items()},
    }


def _paid_timing(sums: Sums) -> dict[str, Any]:
    paid = {g: sums.count("paid", g) for g in facts.GROUPS}
    early = {g: sums.count("paid_early", g) for g in facts.GROUPS}
    late_days = {g: sums.amount("paid", g) for g in facts.GROUPS}
    paid["all"], early["all"], late_days["all"] = sum(paid.values()), sum(early.values()), sum(late_days.values())
    return {
        "invoices_paid": paid,
        "paid_before_due_share": {g: Ratio(early[g], paid[g]) for g in paid},
        "avg_days_paid_after_due": {g: Ratio(late_days[g], paid[g], DAYS_PLACES) for g in paid},
    }


# --- months, for trends -------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def months_back(end: date, count: int) -> list[tuple[date, date]]:
    """The ``count`` calendar months up to the one holding ``end`` (that one ends on ``end``)."""
    periods: list[tuple[date, date]] = []
    last = end
    for _ in range(count):
        first = month_start(last)
        periods.append((first, last))
        last = first - timedelta(days=1)
    return periods[::-1]


def monthly(session: Session, tenant: Tenant, end: date, count: int = 12) -> list[Kpis]:
    return [kpis(session, tenant, first, last) for first, last in months_back(end, count)]


# --- the figures as rows (JSON and CSV) ---------------------------------------------------------

FIGURES = (
    "invoices_issued",
    "invoiced",
    "paid",
    "outstanding",
    "overdue",
    "aging",
    "dso_days",
    "invoices_sent",
    "digital_send_share",
    "payments",
    "paid_by_method",
    "digital_payment_share",
    "invoices_paid",
    "paid_before_due_share",
    "avg_days_paid_after_due",
    "messages_per_1000_invoices",
    "reminders_sent",
    "collection_cases",
    "delivery_failures",
)


def as_json(k: Kpis) -> dict[str, Any]:
    """The API's body (docs/reports.md names every field)."""

    def ratios(values: dict[str, Ratio]) -> dict[str, Any]:
        return {key: ratio.as_json() for key, ratio in values.items()}

    return {
        "object": "kpis",
        "from": k.start.isoformat(),
        "to": k.end.isoformat(),
        "currency": "SEK",
        "invoices_issued": k.invoices_issued,
        "invoiced": k.invoiced,
        "paid": k.paid,
        "outstanding": k.outstanding,
        "overdue": k.overdue,
        "aging": {**k.aging, "total": k.outstanding},
        "dso_days": k.dso_days.as_json(),
        "invoices_sent": k.invoices_sent,
        "digital_send_share": {**k.digital_send_share.as_json(), "by_channel": ratios(k.send_share_by_channel)},
        "payments": k.payments,
        "paid_by_method": k.paid_by_method,
        "digital_payment_share": {
            **k.digital_payment_share.as_json(),
            "by_method": ratios(k.payment_share_by_method),
        },
        "invoices_paid": k.invoices_paid,
        "paid_before_due_share": ratios(k.paid_before_due_share),
        "avg_days_paid_after_due": ratios(k.avg_days_paid_after_due),
        "messages": k.messages,
        "messages_per_1000_invoices": k.messages_per_1000_invoices.as_json(),
        "reminders_sent": k.reminders_sent,
        "reminder_charges": k.reminder_charges,
        "collection_cases": k.collection_cases,
        "collection_principal": k.collection_principal,
        "delivery_failures": {"total": sum(k.delivery_failures.values()), "by_channel": k.delivery_failures},
    }


CSV_HEADER = ("from", "to", "figure", "key", "value", "numerator", "denominator")


def csv_rows(k: Kpis, figure: str | None = None) -> Iterator[tuple[str, ...]]:
    """One row per figure and key: ``value`` is the integer or the ratio's decimal; ``numerator``
    and ``denominator`` are filled for ratios only."""
    body = as_json(k)
    for name in FIGURES if figure is None else (figure,):
        for key, value in _flatten(body[name]):
            yield (body["from"], body["to"], name, key, *_cells(value))


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and "numerator" not in value:
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, dict):
        yield prefix, value
        for key, inner in value.items():
            if key not in ("value", "numerator", "denominator"):
                yield from _flatten(inner, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, value


def _cells(value: Any) -> tuple[str, str, str]:
    if isinstance(value, dict):
        shown = "" if value["value"] is None else value["value"]
        return shown, str(value["numerator"]), str(value["denominator"])
    return str(value), "", ""


def csv_text(figures: Kpis | list[Kpis], figure: str | None = None) -> str:
    """The figures of one period or of several (a trend) as CSV text, header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for k in figures if isinstance(figures, list) else [figures]:
        writer.writerows(csv_rows(k, figure))
    return out.getvalue()
