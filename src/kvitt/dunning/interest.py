"""Late interest (dröjsmålsränta), computed per day with exact integers. Pure, no I/O.

Räntelagen (1975:635) 6 §: the yearly rate is Riksbanken's reference rate + 8 percentage points
(the tenant may have agreed another margin); 9 §: the reference rate fixed for a calendar
half-year applies to every day of it, so a debt that runs over 1 July changes rate that day.

The rule Kvitt uses (stated on every reminder):
- interest runs for each day after the due date up to and including the day it is charged,
  on what was left of the invoice (its receivable) at the end of that day;
- a day's interest is ``balance × yearly rate / 365`` (every year counted as 365 days);
- the days are summed exactly (integers of öre × hundredths of a percent) and the sum is
  rounded once, half up, to whole öre.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

DAYS_IN_YEAR = 365
BP_PER_UNIT = 10000  # the rate is in hundredths of a percent: 1050 = 10.50 %


@dataclass(frozen=True)
class Rate:
    valid_from: date  # 1 January or 1 July
    rate_bp: int  # the reference rate in hundredths of a percent (may be negative)


@dataclass(frozen=True)
class Interest:
    amount: int  # öre, rounded half up
    exact: Decimal  # before rounding, for the reminder's specification
    start: date  # the first day interest ran
    end: date  # the last day (inclusive)
    days: int  # days with a balance
    rates_bp: tuple[int, ...]  # the yearly rates (reference + margin) that applied, in order


class NoReferenceRate(LookupError):
    pass


def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def reference_rate_on(day: date, rates: Sequence[Rate]) -> int:
    """The reference rate for ``day``: the latest rate fixed on or before it."""
    best: Rate | None = None
    for rate in rates:
        if rate.valid_from <= day and (best is None or rate.valid_from > best.valid_from):
            best = rate
    if best is None:
        raise NoReferenceRate(f"no reference rate for {day.isoformat()}: add Riksbanken's rate for that half-year")
    return best.rate_bp


def late_interest(
    movements: Iterable[tuple[date, int]],
    *,
    after: date,
    through: date,
    rates: Sequence[Rate],
    margin_bp: int,
) -> Interest:
    """Interest for the days ``after`` < day ≤ ``through`` on a balance that moves.

    ``movements`` are (date, öre) changes of the receivable (the invoice, then payments and
    credits as negative amounts); the balance of a day includes that day's movements.
    """
    ordered = sorted(movements)
    balance = 0
    index = 0
    while index < len(ordered) and ordered[index][0] <= after:
        balance += ordered[index][1]
        index += 1
    numerator = 0  # Σ balance (öre) × yearly rate (hundredths of a percent)
    days = 0
    used: list[int] = []
    day = after + timedelta(days=1)
    while day <= through:
        while index < len(ordered) and ordered[index][0] <= day:
            balance += ordered[index][1]
            index += 1
        if balance > 0:
            yearly = reference_rate_on(day, rates) + margin_bp
            if not used or used[-1] != yearly:
                used.append(yearly)
            numerator += balance * yearly
            days += 1
        day += timedelta(days=1)
    exact = Decimal(numerator) / Decimal(BP_PER_UNIT * DAYS_IN_YEAR)
    amount = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)) if numerator > 0 else 0
    return Interest(amount, exact, after + timedelta(days=1), through, days, tuple(used))
