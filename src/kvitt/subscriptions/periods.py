"""Billing periods and proration: pure date and money arithmetic, no database.

A subscription's periods are cut at its anchor: the anchor date plus whole intervals (1, 3 or
12 months), each on the anchor's day of the month, or the month's last day when the month is
shorter (an anchor on the 31st gives 28 or 29 February, then 31 March). A period is
``[start, end)``: ``end`` is the first day of the next period.

The proration rule (docs/billing.md):

- A line's price is for a whole period. A period in which the line is charged on only some of
  the days (the subscription starts or ends inside it, is paused for some of it, or the price
  changes inside it) charges the unit price times ``charged days / days of the period``,
  rounded half up to whole öre, per line and per price version, with the quantity unchanged.
- "Days of the period" are the calendar days of the full period the day belongs to (28 to 31
  for a month, 90 to 92 for a quarter, 365 or 366 for a year), also for a first period that
  begins after the anchor.
- A line charged on every day of its period costs exactly its unit price (no division).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from kvitt.core.money import round_to_ore

INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Span:
    """Days ``[start, end)``; ``end`` None means open-ended."""

    start: date
    end: date | None

    def days_within(self, start: date, end: date) -> int:
        """How many days of ``[start, end)`` fall inside this span."""
        lo = max(start, self.start)
        hi = end if self.end is None else min(end, self.end)
        return max((hi - lo).days, 0)


def add_months(anchor: date, months: int) -> date:
    """The anchor's day ``months`` months later, clamped to the end of a shorter month."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last))


def boundary(anchor: date, interval: str, k: int) -> date:
    """The start of period ``k`` (period 0 starts at the anchor; k may be negative)."""
    return add_months(anchor, k * INTERVAL_MONTHS[interval])


def period_index(anchor: date, interval: str, day: date) -> int:
    """The ``k`` with ``boundary(k) <= day < boundary(k + 1)``."""
    step = INTERVAL_MONTHS[interval]
    months = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    k = months // step
    # The month count is right to within one period either way (day-of-month and clamping).
    while boundary(anchor, interval, k) > day:
        k -= 1
    while boundary(anchor, interval, k + 1) <= day:
        k += 1
    return k


def full_period(anchor: date, interval: str, day: date) -> tuple[date, date]:
    """The whole period ``[start, end)`` that ``day`` falls in."""
    k = period_index(anchor, interval, day)
    return boundary(anchor, interval, k), boundary(anchor, interval, k + 1)


def billing_period(anchor: date, interval: str, start: date, end: date | None) -> tuple[date, date]:
    """The period to bill that begins on ``start``: up to the next boundary or ``end``."""
    _, period_end = full_period(anchor, interval, start)
    if end is not None and end < period_end:
        period_end = end
    return start, period_end


def charged_days(period_start: date, period_end: date, version: Span, pauses: Iterable[Span]) -> int:
    """The days of ``[period_start, period_end)`` inside ``version`` and outside every pause.

    Pauses never overlap one another (the service refuses that), so subtracting each is exact.
    """
    lo = max(period_start, version.start)
    hi = period_end if version.end is None else min(period_end, version.end)
    if hi <= lo:
        return 0
    days = (hi - lo).days
    for pause in pauses:
        days -= pause.days_within(lo, hi)
    return days


def prorate(unit_price: int, days: int, period_days: int) -> int:
    """The unit price for ``days`` of a period of ``period_days`` days, half up to whole öre."""
    if days >= period_days:
        return unit_price
    return round_to_ore(Decimal(unit_price) * days / period_days)


def days_between(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)
