"""Swedish banking days: Monday to Friday, except the days banks keep closed.

Sources: Lag (1989:253) om allmänna helgdagar (nyårsdagen, trettondedag jul, långfredagen,
påskdagen, annandag påsk, första maj, Kristi himmelsfärdsdag, pingstdagen, nationaldagen,
midsommardagen, alla helgons dag, juldagen, annandag jul) and the banks' custom, which Bankgirot
follows, of keeping midsommarafton, julafton and nyårsafton closed too. The days that always fall
on a weekend (påskdagen, pingstdagen, midsommardagen, alla helgons dag) need no rule here.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


def easter_sunday(year: int) -> date:
    """Gregorian Easter (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return date(year, month, day)


@lru_cache(maxsize=256)
def bank_holidays(year: int) -> frozenset[date]:
    easter = easter_sunday(year)
    # Midsommarafton: the Friday between 19 and 25 June.
    midsummer_eve = next(date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4)
    return frozenset(
        {
            date(year, 1, 1),  # nyårsdagen
            date(year, 1, 6),  # trettondedag jul
            easter - timedelta(days=2),  # långfredagen
            easter + timedelta(days=1),  # annandag påsk
            date(year, 5, 1),  # första maj
            easter + timedelta(days=39),  # Kristi himmelsfärdsdag
            date(year, 6, 6),  # nationaldagen
            midsummer_eve,
            date(year, 12, 24),  # julafton
            date(year, 12, 25),  # juldagen
            date(year, 12, 26),  # annandag jul
            date(year, 12, 31),  # nyårsafton
        }
    )


def is_banking_day(day: date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def next_banking_day(day: date) -> date:
    """``day`` itself if it is a banking day, else the next one."""
    while not is_banking_day(day):
        day += timedelta(days=1)
    return day


def banking_days_before(day: date, count: int) -> date:
    """The banking day ``count`` banking days before ``day``."""
    while count > 0:
        day -= timedelta(days=1)
        if is_banking_day(day):
            count -= 1
    return day


def banking_days_after(day: date, count: int) -> date:
    """The banking day ``count`` banking days after ``day``."""
    while count > 0:
        day += timedelta(days=1)
        if is_banking_day(day):
            count -= 1
    return day
