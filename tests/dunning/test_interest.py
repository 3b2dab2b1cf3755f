"""Late interest per Räntelagen (1975:635) 6 § and 9 §, day by day, rounded once to öre."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.dunning.interest import NoReferenceRate, Rate, half_year_start, late_interest, reference_rate_on

RATES = [
    Rate(date(2024, 1, 1), 400),
    Rate(date(2024, 7, 1), 400),
    Rate(date(2025, 1, 1), 250),
    Rate(date(2025, 7, 1), 200),
]


def test_a_year_at_a_constant_rate_is_the_yearly_rate() -> None:
    """Räntelagen 6 §: 10 000 kr for 365 days at reference 2,00 % + 8 pp = 1 000 kr."""
    interest = late_interest(
        [(date(2025, 7, 1), 1_000_000)], after=date(2025, 7, 1), through=date(2026, 7, 1), rates=RATES, margin_bp=800
    )
    assert interest.days == 365 and interest.amount == 100_000 and interest.rates_bp == (1000,)


def test_the_rate_of_each_half_year_applies_to_its_days() -> None:
    """Räntelagen 9 §: the reference rate fixed for a calendar half-year applies for it; a debt
    running over 1 July changes rate that day (2,50 % → 2,00 % in 2025)."""
    interest = late_interest(
        [(date(2025, 6, 1), 36500)], after=date(2025, 6, 25), through=date(2025, 7, 5), rates=RATES, margin_bp=800
    )
    # 5 days (26–30 June) at 10,50 % and 5 days (1–5 July) at 10,00 % on 365,00 kr.
    assert interest.exact == Decimal(36500 * (5 * 1050 + 5 * 1000)) / Decimal(10000 * 365)
    assert interest.amount == 103  # 102,5 öre, half up
    assert interest.rates_bp == (1050, 1000)


def test_payments_lower_the_balance_from_their_day() -> None:
    moves = [(date(2025, 8, 1), 100_000), (date(2025, 9, 5), -60_000)]
    interest = late_interest(moves, after=date(2025, 8, 31), through=date(2025, 9, 10), rates=RATES, margin_bp=800)
    # 1–4 Sept on 1 000 kr, 5–10 Sept on 400 kr, at 10 %.
    expected = Fraction(100_000 * 4 * 1000 + 40_000 * 6 * 1000, 10000 * 365)
    assert interest.amount == int(expected + Fraction(1, 2))


def test_nothing_when_nothing_is_owed() -> None:
    moves = [(date(2025, 8, 1), 100_000), (date(2025, 8, 20), -100_000)]
    assert (
        late_interest(moves, after=date(2025, 8, 31), through=date(2025, 9, 30), rates=RATES, margin_bp=800).amount == 0
    )


def test_an_unknown_half_year_is_an_error_not_a_guess() -> None:
    with pytest.raises(NoReferenceRate):
        reference_rate_on(date(2019, 3, 1), RATES)
    assert reference_rate_on(date(2026, 3, 1), RATES) == 200  # the latest known rate until the operator adds one
    assert half_year_start(date(2026, 11, 25)) == date(2026, 7, 1)


@given(
    principal=st.integers(min_value=1, max_value=10**10),
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 6, 30)),
    length=st.integers(min_value=0, max_value=800),
    split_at=st.integers(min_value=0, max_value=800),
)
def test_interest_is_additive_over_periods_up_to_rounding(
    principal: int, start: date, length: int, split_at: int
) -> None:
    """Charging in two reminders gives the same interest as in one, within the two roundings
    (half an öre each), and always matches an exact sum of the days."""
    moves = [(start, principal)]
    end = start + timedelta(days=length)
    middle = start + timedelta(days=min(split_at, length))
    whole = late_interest(moves, after=start, through=end, rates=RATES, margin_bp=800)
    first = late_interest(moves, after=start, through=middle, rates=RATES, margin_bp=800)
    second = late_interest(moves, after=middle, through=end, rates=RATES, margin_bp=800)
    assert abs(first.amount + second.amount - whole.amount) <= 1
    exact = sum(
        (Fraction(principal * (reference_rate_on(start + timedelta(days=d), RATES) + 800), 10000 * 365)
         for d in range(1, length + 1)),
        Fraction(0),
    )  # fmt: skip
    assert whole.amount == (int(exact + Fraction(1, 2)) if exact > 0 else 0)
    assert whole.amount >= 0
