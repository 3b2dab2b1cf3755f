"""A year of monthly billing under the test clock, checked against an independent calculation.

1,000 subscriptions start on random days in the first quarter (prorated first periods), on
random anchor days (1st, 15th, 28th, 31st or the start's day), with one to three lines at 25, 12
or 6 % VAT. Along the year some change prices from a day inside a period, some pause for a
while or until resumed, some are cancelled mid-period. The clock runs every day's jobs.

The expected figures are computed here from what the test did, day by day, with its own month
arithmetic and integer rounding; the test does not call the proration code it checks. The
proration rule is docs/billing.md's; VAT per rate on the sum of the nets, half up, and the total
rounded to whole kronor (öresavrundning) are ML 7 kap. / Skatteverket's rounding rule as in
docs/architecture.md.
"""

from __future__ import annotations

import calendar
import os
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from kvitt.billing.models import BilledPeriod
from kvitt.core.db import Database
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.delivery.models import SENT, Delivery
from kvitt.invoices.models import Invoice, InvoiceLine
from kvitt.ledger.models import JournalLine
from kvitt.subscriptions import service as subscriptions
from kvitt.subscriptions.schemas import CancelIn, PauseIn, ResumeIn, SubscriptionCreate, SubscriptionUpdate
from kvitt.tenants.models import Tenant
from kvitt.testclock import service as testclock
from kvitt.worker import Worker
from tests.conftest import TENANT_A, make_tenant
from tests.loopback import Mailbox

# The test clock runs every feature's daily jobs and events for 365 days (billing, overdue
# sweep, dunning ticks, deliveries, webhooks, event chains), which costs far more than the
# billing: in the suite the year runs with 20 subscriptions (about 220 invoices) to stay within
# the time a test may take. The done-when figure, 1,000 subscriptions, is the same test with
# KVITT_YEAR_SUBSCRIPTIONS=1000 (766 s on SQLite on an idle machine; bench/RESULTS.md, 2026-12-02).
COUNT = int(os.environ.get("KVITT_YEAR_SUBSCRIPTIONS", "20"))
YEAR_END = date(2026, 12, 31)


@dataclass
class Expected:
    """What the test did to one subscription, in its own terms."""

    start: date
    anchor_day: int
    versions: list[tuple[date, date | None, list[tuple[int, int, int]]]]  # from, to, [(milli, price, vat)]
    pauses: list[list[date | None]] = field(default_factory=list)  # [start, end)
    end: date | None = None
    next_start: date = date.min  # the first day not yet billed, as the test expects it


def advance(db: Database, tenant_id: int, to: date, **kw: Any) -> date:
    worker = Worker(db)
    return testclock.advance(db, tenant_id, to, run_jobs=lambda: worker.run_until_idle(max_rounds=100_000), **kw)


def boundary_in(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def month_boundaries(anchor_day: int, around: date) -> tuple[date, date]:
    """The monthly boundaries b0 <= around < b1 (each month's anchor day, or its last day)."""
    year, month = around.year, around.month
    here = boundary_in(year, month, anchor_day)
    if here <= around:
        nxt = boundary_in(year + month // 12, month % 12 + 1, anchor_day)
        return here, nxt
    prev = boundary_in(year - (month == 1), (month - 2) % 12 + 1, anchor_day)
    return prev, here


def half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def expected_periods(sub: Expected, until: date) -> dict[date, dict[str, int]]:
    """Every period that starts on or before ``until``: its net, VAT and total, day by day."""
    result: dict[date, dict[str, int]] = {}
    start = sub.start
    while start <= until and (sub.end is None or start < sub.end):
        full_start, full_end = month_boundaries(sub.anchor_day, start)
        end = full_end if sub.end is None else min(full_end, sub.end)
        period_days = (full_end - full_start).days
        nets_by_rate: dict[int, int] = {}
        charged_any = False
        for valid_from, valid_to, lines in sub.versions:
            days = 0
            day = start
            while day < end:
                in_version = valid_from <= day and (valid_to is None or day < valid_to)
                paused = any(p[0] <= day and (p[1] is None or day < p[1]) for p in sub.pauses)  # type: ignore[operator]
                days += in_version and not paused
                day += timedelta(days=1)
            if not days:
                continue
            charged_any = True
            for milli, price, vat in lines:
                unit = half_up(price * days, period_days)
                nets_by_rate[vat] = nets_by_rate.get(vat, 0) + half_up(milli * unit, 1000)
        if charged_any:
            net = sum(nets_by_rate.values())
            vat = sum(half_up(n * rate, 100) for rate, n in nets_by_rate.items())
            total = half_up(net + vat, 100) * 100
            result[start] = {"net": net, "vat": vat, "total": total}
        start = end
    return result


def random_lines(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "description": rng.choice(["Mobil Fri", "Bredband 250", "Försäkring", "Surf 10 GB"]),
            "quantity": rng.choice(["1", "2", "0.5"]),
            "unit_price": rng.randint(100, 99_999),
            "vat_rate": rng.choice([25, 25, 12, 6]),
        }
        for _ in range(rng.randint(1, 3))
    ]


def as_tuples(lines: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    return [(int(float(line["quantity"]) * 1000), line["unit_price"], line["vat_rate"]) for line in lines]


def test_a_year_of_monthly_billing_matches_an_independent_calculation(
    db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    rng = random.Random(2026)
    tenant_id, _ = make_tenant(db, **TENANT_A, is_test=True)
    clock_start = date(2025, 12, 31)
    advance(db, tenant_id, clock_start, start=clock_start)

    expected: dict[int, Expected] = {}
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        for n in range(COUNT):
            customer = customers.create(
                session,
                tenant,
                CustomerCreate(customer_no=f"K{n}", name=f"Kund {n}", email=f"k{n}@example.se"),
            )
            start = date(2026, 1, 1) + timedelta(days=rng.randint(0, 89))
            anchor = rng.choice([None, 1, 15, 28, 31])
            lines = random_lines(rng)
            sub = subscriptions.create(
                session,
                tenant,
                SubscriptionCreate(customer=customer.id, start_date=start, anchor_day=anchor, lines=lines),
                today=clock_start,
            )
            expected[sub.id] = Expected(start, anchor or start.day, [(start, None, as_tuples(lines))])

    def change_some(on: date, share_prices: float, share_pauses: float, share_cancels: float) -> None:
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            for sub_id, sub in expected.items():
                subscription = subscriptions.get(session, tenant, sub_id)
                first = subscription.next_period_start
                if first is None:
                    continue
                roll = rng.random()
                day = first + timedelta(days=rng.randint(0, 20))
                if roll < share_prices:
                    lines = random_lines(rng)
                    subscriptions.update(
                        session, tenant, subscription, SubscriptionUpdate(lines=lines, effective_date=day)
                    )
                    start_from = max(day, sub.start)
                    kept: list[tuple[date, date | None, list[tuple[int, int, int]]]] = [
                        (f, start_from if t is None else t, ls) for f, t, ls in sub.versions if f < start_from
                    ]
                    sub.versions = kept
                    sub.versions.append((start_from, None, as_tuples(lines)))
                elif roll < share_prices + share_pauses and not any(p[1] is None for p in sub.pauses):
                    if any(p[1] is not None and p[1] > day for p in sub.pauses):
                        continue
                    until = day + timedelta(days=rng.randint(5, 70)) if rng.random() < 0.6 else None
                    subscriptions.pause(session, tenant, subscription, PauseIn(start=day, end=until))
                    sub.pauses.append([day, until])
                elif roll < share_prices + share_pauses + share_cancels and sub.end is None:
                    subscriptions.cancel(session, tenant, subscription, CancelIn(end_date=day))
                    sub.end = day

    def resume_all(on: date) -> None:
        with db.transaction() as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            for sub_id, sub in expected.items():
                open_pause = next((p for p in sub.pauses if p[1] is None), None)
                if open_pause is None:
                    continue
                subscription = subscriptions.get(session, tenant, sub_id)
                if subscription.next_period_start is None:
                    continue
                resume_on = subscription.next_period_start + timedelta(days=rng.randint(0, 10))
                subscriptions.resume(session, tenant, subscription, ResumeIn(on=resume_on))
                if resume_on <= open_pause[0]:  # type: ignore[operator]
                    sub.pauses.remove(open_pause)
                else:
                    open_pause[1] = resume_on

    advance(db, tenant_id, date(2026, 3, 20))
    change_some(date(2026, 3, 20), 0.2, 0.15, 0.05)
    advance(db, tenant_id, date(2026, 7, 5))
    resume_all(date(2026, 7, 5))
    change_some(date(2026, 7, 5), 0.1, 0.1, 0.05)
    advance(db, tenant_id, date(2026, 9, 30))
    resume_all(date(2026, 9, 30))
    advance(db, tenant_id, YEAR_END)

    with db.transaction() as session:
        billed: dict[int, dict[date, dict[str, int]]] = {sub_id: {} for sub_id in expected}
        rows = session.execute(
            select(BilledPeriod.subscription_id, BilledPeriod.period_start, Invoice.net, Invoice.vat, Invoice.total)
            .join(Invoice, Invoice.id == BilledPeriod.invoice_id)
            .where(BilledPeriod.tenant_id == tenant_id)
        )
        for sub_id, start, net, vat, total in rows:
            assert start not in billed[sub_id], "a period billed twice"
            billed[sub_id][start] = {"net": net, "vat": vat, "total": total}
        wanted = {sub_id: expected_periods(sub, YEAR_END) for sub_id, sub in expected.items()}
        mismatched = [sub_id for sub_id in expected if billed[sub_id] != wanted[sub_id]]
        assert not mismatched, (mismatched[:5], [(billed[i], wanted[i], expected[i]) for i in mismatched[:1]])

        invoices = session.execute(
            select(func.count(Invoice.id), func.sum(Invoice.net), func.sum(Invoice.total)).where(
                Invoice.tenant_id == tenant_id
            )
        ).one()
        all_wanted = [p for periods in wanted.values() for p in periods.values()]
        assert invoices[0] == len(all_wanted) > COUNT * 8
        assert invoices[1] == sum(p["net"] for p in all_wanted)
        assert invoices[2] == sum(p["total"] for p in all_wanted)
        # The books agree: every invoice posted its total to receivables (1510), balanced.
        receivables = session.scalar(
            select(func.sum(JournalLine.amount)).where(
                JournalLine.tenant_id == tenant_id, JournalLine.account == "1510"
            )
        )
        balance = session.scalar(select(func.sum(JournalLine.amount)).where(JournalLine.tenant_id == tenant_id))
        assert balance == 0
        assert receivables == invoices[2]
        # The number series has no gap: 1..n.
        numbers = session.execute(
            select(func.min(Invoice.number), func.max(Invoice.number)).where(Invoice.tenant_id == tenant_id)
        ).one()
        assert numbers == (1, invoices[0])
        # Proration happened: some invoice lines carry a part of a period.
        prorated = session.scalar(
            select(func.count(InvoiceLine.id)).where(
                InvoiceLine.tenant_id == tenant_id, InvoiceLine.description.like("%dagar)")
            )
        )
        assert prorated and prorated > COUNT
        # Every invoice went out by email once, to the real SMTP server, and nothing failed.
        emails = dict(
            session.execute(
                select(Delivery.state, func.count(Delivery.id))
                .where(Delivery.tenant_id == tenant_id, Delivery.document == "invoice")
                .group_by(Delivery.state)
            ).all()
        )
        assert emails == {SENT: invoices[0]}
        sent_in_all = session.scalar(
            select(func.count(Delivery.id)).where(Delivery.tenant_id == tenant_id, Delivery.state == SENT)
        )
        assert len(mailbox.messages) == sent_in_all
