"""What one period of a subscription charges: its invoice lines, by the proration rule.

Pure: it takes the subscription's figures as plain values, so that the billing run can feed it
rows straight from bulk queries, and tests can feed it hand-made cases.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from kvitt.subscriptions.periods import (
    Span,
    billing_period,
    charged_days,
    full_period,
    prorate,
)

MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class Version:
    """One price version of a recurring line (a ``subscription_lines`` row)."""

    position: int
    item_id: int | None
    description: str
    quantity_milli: int
    unit: str | None
    unit_price: int
    vat_rate: int
    account: str | None
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class Plan:
    interval: str
    anchor_date: date
    end_date: date | None
    versions: Sequence[Version]
    pauses: Sequence[Span]


@dataclass(frozen=True)
class Charge:
    version: Version
    unit_price: int  # prorated
    days: int
    period_days: int
    description: str


def periods_due(plan: Plan, next_start: date | None, on: date) -> Iterator[tuple[date, date]]:
    """The unbilled periods that begin on or before ``on`` (billing is in advance)."""
    start = next_start
    while start is not None and start <= on and (plan.end_date is None or start < plan.end_date):
        period = billing_period(plan.anchor_date, plan.interval, start, plan.end_date)
        yield period
        start = period[1]


def next_start_after(plan: Plan, period_end: date) -> date | None:
    """The billing pointer after a period: None once the subscription has ended."""
    return None if plan.end_date is not None and period_end >= plan.end_date else period_end


def charges(plan: Plan, period_start: date, period_end: date) -> list[Charge]:
    """The lines of the invoice for ``[period_start, period_end)``, by position then date."""
    full_start, full_end = full_period(plan.anchor_date, plan.interval, period_start)
    period_days = (full_end - full_start).days
    result = []
    for version in sorted(plan.versions, key=lambda v: (v.position, v.valid_from)):
        span = Span(version.valid_from, version.valid_to)
        days = charged_days(period_start, period_end, span, plan.pauses)
        if days <= 0:
            continue
        first = max(period_start, version.valid_from)
        last = (period_end if version.valid_to is None else min(period_end, version.valid_to)) - timedelta(days=1)
        text = f"{version.description}, {first.isoformat()}–{last.isoformat()}"
        if days < period_days:
            text += f" ({days}/{period_days} dagar)"
        result.append(
            Charge(
                version=version,
                unit_price=prorate(version.unit_price, days, period_days),
                days=days,
                period_days=period_days,
                description=text[:MAX_DESCRIPTION],
            )
        )
    return result
