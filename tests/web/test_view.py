"""The view's own fast formatting agrees with core.money."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kvitt.core.money import format_amount
from kvitt.web.view import kronor


@given(ore=st.integers(min_value=-(10**13), max_value=10**13), locale=st.sampled_from(["sv_SE", "en_SE"]))
def test_kronor_is_format_amount(ore: int, locale: str) -> None:
    """Same text as Babel's CLDR formatting (sv: U+00A0 grouping, decimal comma, U+2212 minus)."""
    assert kronor(ore, locale) == format_amount(ore, locale, "SEK")
