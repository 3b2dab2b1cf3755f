"""The proration rule (docs/billing.md, "Proration"): hand-computed cases and invariants.

Source of the rule: Kvitt's own, written in docs/billing.md — a line's unit price times charged
days over the days of the full period, rounded half up to whole öre per line and price version
(half up: the Swedish commercial rounding, core/money.py). The daily-price convention is the one
Stripe documents for its prorations (a share of the period by time), on whole days because
invoices carry dates, not times.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kvitt.subscriptions.charges import Plan, Version, charges, periods_due
from kvitt.subscriptions.periods import Span, add_months, billing_period, full_period, period_index, prorate


def version(price: int, valid_from: date, valid_to: date | None = None, *, milli: int = 1000) -> Version:
    return Version(1, None, "Mobil", milli, None, price, 25, None, valid_from, valid_to)


def plan(*versions: Version, anchor: date, end: date | None = None, pauses: tuple[Span, ...] = ()) -> Plan:
    return Plan("month", anchor, end, list(versions), list(pauses))


def test_anchor_on_the_31st_clamps_to_short_months_and_comes_back() -> None:
    """Periods cut at the anchor's day, or the month's last day when it is shorter."""
    anchor = date(2026, 1, 31)
    assert [add_months(anchor, k) for k in range(4)] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)  # leap year
    assert full_period(anchor, "month", date(2026, 3, 1)) == (date(2026, 2, 28), date(2026, 3, 31))
    assert full_period(anchor, "quarter", date(2026, 5, 1)) == (date(2026, 4, 30), date(2026, 7, 31))
    assert full_period(date(2026, 1, 15), "year", date(2027, 1, 14)) == (date(2026, 1, 15), date(2027, 1, 15))


def test_a_start_on_the_15th_of_january_charges_17_of_31_days() -> None:
    """29,900 öre × 17/31 = 16,396.77 → 16,397 öre (half up)."""
    p = plan(version(29_900, date(2026, 1, 15)), anchor=date(2026, 1, 1))
    (line,) = charges(p, date(2026, 1, 15), date(2026, 2, 1))
    assert (line.days, line.period_days, line.unit_price) == (17, 31, 16_397)
    assert line.description == "Mobil, 2026-01-15–2026-01-31 (17/31 dagar)"


def test_a_full_period_costs_exactly_the_unit_price() -> None:
    p = plan(version(33_333, date(2026, 1, 1)), anchor=date(2026, 1, 1))
    (line,) = charges(p, date(2026, 2, 1), date(2026, 3, 1))
    assert (line.days, line.period_days, line.unit_price) == (28, 28, 33_333)


def test_a_price_change_on_the_10th_of_april_splits_the_period() -> None:
    """April has 30 days: 9 days at 100.00 kr = 3,000 öre; 21 days at 150.00 kr = 10,500 öre."""
    p = plan(
        version(10_000, date(2026, 1, 1), date(2026, 4, 10)),
        version(15_000, date(2026, 4, 10)),
        anchor=date(2026, 1, 1),
    )
    lines = charges(p, date(2026, 4, 1), date(2026, 5, 1))
    assert [(c.days, c.unit_price) for c in lines] == [(9, 3_000), (21, 10_500)]
    assert lines[0].description == "Mobil, 2026-04-01–2026-04-09 (9/30 dagar)"


def test_a_pause_from_the_20th_of_may_to_the_10th_of_june() -> None:
    """May: 19 of 31 days (20–31 paused) → 19,900 × 19/31 = 12,196.77 → 12,197.
    June: 21 of 30 days (1–9 paused) → 19,900 × 21/30 = 13,930."""
    p = plan(
        version(19_900, date(2026, 1, 1)),
        anchor=date(2026, 1, 1),
        pauses=(Span(date(2026, 5, 20), date(2026, 6, 10)),),
    )
    (may,) = charges(p, date(2026, 5, 1), date(2026, 6, 1))
    (june,) = charges(p, date(2026, 6, 1), date(2026, 7, 1))
    assert (may.days, may.unit_price) == (19, 12_197)
    assert (june.days, june.unit_price) == (21, 13_930)


def test_a_period_paused_throughout_charges_nothing() -> None:
    p = plan(version(19_900, date(2026, 1, 1)), anchor=date(2026, 1, 1), pauses=(Span(date(2026, 3, 1), None),))
    assert charges(p, date(2026, 4, 1), date(2026, 5, 1)) == []


def test_an_end_on_the_17th_of_september_bills_16_of_30_days_and_then_stops() -> None:
    """The end date is the first day without service: 1–16 September, 24,900 × 16/30 = 13,280."""
    p = plan(version(24_900, date(2026, 1, 1)), anchor=date(2026, 1, 1), end=date(2026, 9, 17))
    assert list(periods_due(p, date(2026, 9, 1), date(2026, 12, 31))) == [(date(2026, 9, 1), date(2026, 9, 17))]
    (line,) = charges(p, date(2026, 9, 1), date(2026, 9, 17))
    assert (line.days, line.period_days, line.unit_price) == (16, 30, 13_280)


def test_catching_up_bills_each_missed_period_once() -> None:
    p = plan(version(100, date(2026, 1, 15)), anchor=date(2026, 1, 1))
    assert list(periods_due(p, date(2026, 1, 15), date(2026, 3, 1))) == [
        (date(2026, 1, 15), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 4, 1)),
    ]


def test_half_an_ore_rounds_up() -> None:
    """1 öre × 15/30 = 0.5 öre → 1 öre (half up, core/money.py)."""
    assert prorate(1, 15, 30) == 1
    assert prorate(3, 1, 2) == 2
    assert prorate(0, 3, 30) == 0


days = st.integers(min_value=0, max_value=3000)
anchors = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
intervals = st.sampled_from(["month", "quarter", "year"])


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, interval=intervals, offset=st.integers(min_value=-2000, max_value=4000))
def test_every_day_falls_in_exactly_one_period(anchor: date, interval: str, offset: int) -> None:
    day = anchor + timedelta(days=offset)
    start, end = full_period(anchor, interval, day)
    assert start <= day < end
    k = period_index(anchor, interval, day)
    assert full_period(anchor, interval, end) == (end, full_period(anchor, interval, end)[1])
    assert period_index(anchor, interval, end) == k + 1
    assert 28 <= (end - start).days <= 366


@settings(max_examples=200, deadline=None)
@given(
    anchor=anchors,
    price=st.integers(min_value=0, max_value=10_000_000),
    cut=st.integers(min_value=1, max_value=27),
)
def test_splitting_a_period_in_two_costs_the_whole_within_one_ore(anchor: date, price: int, cut: int) -> None:
    """Two versions at one price, split on any day: the two rounded parts differ from the whole by
    at most one öre (each part is rounded once)."""
    start, end = full_period(anchor, "month", anchor)
    split = start + timedelta(days=cut)
    p = plan(version(price, start, split), version(price, split), anchor=anchor)
    parts = charges(p, start, end)
    assert sum(c.days for c in parts) == (end - start).days
    assert abs(sum(c.unit_price for c in parts) - price) <= 1


@settings(max_examples=200, deadline=None)
@given(
    anchor=anchors,
    price=st.integers(min_value=0, max_value=10_000_000),
    start_offset=days,
    pause_start=st.integers(min_value=0, max_value=120),
    pause_days=st.integers(min_value=1, max_value=60),
)
def test_charged_days_never_exceed_the_period_and_prices_never_exceed_the_full_price(
    anchor: date, price: int, start_offset: int, pause_start: int, pause_days: int
) -> None:
    start = anchor + timedelta(days=start_offset % 400)
    pause = Span(start + timedelta(days=pause_start), start + timedelta(days=pause_start + pause_days))
    p = plan(version(price, start), anchor=anchor, pauses=(pause,))
    for period_start, period_end in periods_due(p, start, start + timedelta(days=200)):
        assert billing_period(anchor, "month", period_start, None) == (period_start, period_end)
        for line in charges(p, period_start, period_end):
            assert 0 < line.days <= line.period_days
            assert 0 <= line.unit_price <= price
            # Monotone: more days never cost less.
            assert line.unit_price >= prorate(price, line.days - 1, line.period_days)
