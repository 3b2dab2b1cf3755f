"""The business date, and the daily jobs that a business day brings.

Invoices are dated in Swedish time, whatever the server's zone. Features register the outbox
job kinds that must run once per tenant and business day (billing run, overdue sweep, dunning
tick ...) with ``daily_job``; the worker enqueues them each day, and the test clock runs the
same jobs, in the same order, for every day it moves a test tenant through.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

_daily_jobs: dict[str, int] = {}


def today() -> date:
    return datetime.now(STOCKHOLM).date()


# The days a report period may name: a day a year before or after the calendar's end would
# overflow as soon as a period is widened by a day or a month (schemathesis found 9999-12-31).
EARLIEST_REPORT_DAY = date(1900, 1, 1)
LATEST_REPORT_DAY = date(9998, 12, 31)


def report_day_error(day: date) -> str | None:
    """Why ``day`` cannot bound a report period, or None."""
    if EARLIEST_REPORT_DAY <= day <= LATEST_REPORT_DAY:
        return None
    return f"{day.isoformat()} is outside {EARLIEST_REPORT_DAY.isoformat()}..{LATEST_REPORT_DAY.isoformat()}"


def daily_job(kind: str, order: int) -> None:
    """Run outbox job ``kind`` once per tenant and day, with payload ``{"date": "YYYY-MM-DD"}``.

    Lower ``order`` runs first on a day: billing (10) before the overdue sweep (20) before
    dunning (30), so that a simulated day happens in the order a real one does.
    """
    _daily_jobs[kind] = order


def daily_jobs() -> list[str]:
    """The registered daily job kinds, in the order they run on a day."""
    return sorted(_daily_jobs, key=lambda kind: (_daily_jobs[kind], kind))
