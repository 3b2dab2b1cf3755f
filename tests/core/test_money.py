"""Money rules: öre integers, half-up rounding, öresavrundning, quantities, Swedish formatting.

Sources:
- Lag (1970:1029) om avrundning av öresbelopp, as amended from 30 September 2010 when the
  50-öre coin was withdrawn (Riksbanken, "50-öre coin to be abolished in 2010"): amounts
  ending in 1–49 öre are rounded down to whole kronor, 50–99 öre up.
- Mervärdesskattelagen (2023:200) and the VAT Directive 2006/112/EC art. 226 (8), (10): the
  invoice states the taxable amount and the VAT per rate in the currency, i.e. whole öre;
  rounding half up to the nearest öre is the commercial rule Kvitt applies (EN 16931
  BR-CO-17: "rounded to two decimals").
- Negative amounts (credit notes) are not addressed by the law. Kvitt rounds half away from
  zero, so that rounding is odd-symmetric: round(−x) = −round(x), and a credit note that
  mirrors an invoice has exactly the negated amounts (no stray öre on 1510 or 26xx).
- Unicode CLDR, locale ``sv`` (via Babel): grouping separator U+00A0 NO-BREAK SPACE, minus
  sign U+2212 MINUS SIGN, currency pattern ``#,##0.00 ¤``, SEK symbol ``kr``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.core import money
from kvitt.core.money import MoneyError

NBSP = "\u00a0"
MINUS = "\u2212"

decimals = st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False, places=6)
ore_amounts = st.integers(min_value=-(10**14), max_value=10**14)


# --- round_to_ore ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.5", 3),
        ("2.4999", 2),
        ("2.5000001", 3),
        ("3.5", 4),  # half up, not banker's rounding (which would give 4 here and 2 for 2.5)
        ("0.5", 1),
        ("0.49", 0),
        ("-0.5", -1),
        ("-2.5", -3),
        ("-2.4999", -2),
        ("-2.51", -3),
        ("10352.5", 10353),
        ("0", 0),
    ],
)
def test_round_to_ore_half_up_away_from_zero(value: str, expected: int) -> None:
    """Half up to whole öre (EN 16931 BR-CO-17, commercial rounding); negatives half away from zero
    so that a credit note mirrors its invoice (Kvitt's rule, documented in money.py)."""
    result = money.round_to_ore(Decimal(value))
    assert result == expected
    assert type(result) is int


@given(decimals)
def test_round_to_ore_is_odd_symmetric(value: Decimal) -> None:
    """Kvitt's rule for negatives: round(−x) == −round(x), so credit notes mirror invoices to the öre."""
    assert money.round_to_ore(-value) == -money.round_to_ore(value)


@given(decimals)
def test_round_to_ore_is_nearest(value: Decimal) -> None:
    """Rounding to the nearest öre: never more than half an öre off, exactly half only away from zero."""
    result = money.round_to_ore(value)
    error = Decimal(result) - value
    assert abs(error) <= Decimal("0.5")
    if abs(error) == Decimal("0.5"):
        assert abs(result) > abs(value)


# --- round_to_krona (öresavrundning) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("ore", "expected"),
    [
        (61184, 61200),  # 611,84 kr -> 612 kr
        (61149, 61100),  # 1–49 öre down
        (61150, 61200),  # 50–99 öre up
        (61101, 61100),
        (61199, 61200),
        (61100, 61100),
        (49, 0),
        (50, 100),
        (0, 0),
        (-61150, -61200),  # mirrored for credit notes
        (-61149, -61100),
        (-50, -100),
    ],
)
def test_round_to_krona(ore: int, expected: int) -> None:
    """Lag (1970:1029) om avrundning av öresbelopp (from 2010-09-30): 1–49 öre down, 50–99 öre up."""
    result = money.round_to_krona(ore)
    assert result == expected
    assert type(result) is int


@given(ore_amounts)
def test_round_to_krona_properties(ore: int) -> None:
    """Lag (1970:1029): whole kronor, at most 50 öre off; odd-symmetric for credit notes (Kvitt's rule)."""
    rounded = money.round_to_krona(ore)
    assert rounded % 100 == 0
    assert abs(rounded - ore) <= 50
    if abs(rounded - ore) == 50:
        assert abs(rounded) > abs(ore)
    assert money.round_to_krona(-ore) == -rounded


# --- kronor_to_ore / ore_to_kronor ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("199.00", 19900),
        ("199", 19900),
        ("0.01", 1),
        (" 12.50 ", 1250),
        ("-12.5", -1250),
        (Decimal("316.00"), 31600),
        (5, 500),
        ("1.000", 100),  # trailing zeros are not fractions of an öre (see the report: doubtful)
    ],
)
def test_kronor_to_ore(value: Decimal | str | int, expected: int) -> None:
    """Amounts are integers of öre (ARCHITECTURE.md "Money and numbers"; öre is the krona's minor unit)."""
    result = money.kronor_to_ore(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", ["1.005", "0.001", "199.999", "-0.125", Decimal("1.001")])
def test_kronor_to_ore_rejects_fractions_of_an_ore(value: Decimal | str) -> None:
    """ARCHITECTURE.md: an amount with three decimals gets a clear error, never a guess."""
    with pytest.raises(MoneyError, match="more than 2 decimals"):
        money.kronor_to_ore(value)


@pytest.mark.parametrize("value", [1.5, 0.1, 199.0, float("nan")])
def test_kronor_to_ore_rejects_floats(value: float) -> None:
    """ARCHITECTURE.md: never float (0.1 is not representable in binary floating point)."""
    with pytest.raises(MoneyError, match="float"):
        money.kronor_to_ore(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", "-inf", "1,50", "1.2.3", True])
def test_kronor_to_ore_rejects_non_numbers(value: str | bool) -> None:
    """A clear MoneyError (a ValueError) for anything that is not a finite decimal number."""
    with pytest.raises(MoneyError):
        money.kronor_to_ore(value)


@given(ore_amounts)
def test_ore_kronor_round_trip(ore: int) -> None:
    """Öre <-> kronor with two decimals loses nothing."""
    kronor = money.ore_to_kronor(ore)
    assert kronor.as_tuple().exponent == -2
    assert money.kronor_to_ore(kronor) == ore
    assert money.kronor_to_ore(str(kronor)) == ore


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=1, max_value=9))
def test_kronor_to_ore_refuses_any_third_decimal(ore: int, thousandth: int) -> None:
    """ARCHITECTURE.md: a third decimal that is not zero is refused, whatever the amount."""
    value = Decimal(ore) / 100 + Decimal(thousandth) / 1000 * (1 if ore >= 0 else -1)
    with pytest.raises(MoneyError):
        money.kronor_to_ore(value)


# --- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.5000", Decimal("2.5")),
        ("2.5", Decimal("2.5")),
        ("1.234", Decimal("1.234")),
        ("0.001", Decimal("0.001")),
        ("10", Decimal(10)),
        (3, Decimal(3)),
        (Decimal("0.50000"), Decimal("0.5")),
        (" 4 ", Decimal(4)),
    ],
)
def test_parse_quantity_accepts_up_to_three_decimals(value: Decimal | str | int, expected: Decimal) -> None:
    """Kvitt stores quantities as thousandths (money.QUANTITY_SCALE); trailing zeros are no precision."""
    quantity = money.parse_quantity(value)
    assert quantity == expected
    assert isinstance(quantity, Decimal)
    assert money.quantity_to_milli(quantity) == int(expected * 1000)


@pytest.mark.parametrize("value", ["1.2345", "0.0001", "2.50001", Decimal("1E-4")])
def test_parse_quantity_refuses_four_decimals(value: Decimal | str) -> None:
    """At most three decimals (thousandths): a fourth would be lost when stored."""
    with pytest.raises(MoneyError, match="more than 3 decimals"):
        money.parse_quantity(value)


@pytest.mark.parametrize("value", ["abc", "", "NaN", "inf", 2.5])
def test_parse_quantity_refuses_non_numbers_and_floats(value: str | float) -> None:
    """ARCHITECTURE.md "Money and numbers": never float; quantities are decimal strings."""
    with pytest.raises(MoneyError):
        money.parse_quantity(value)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**12))
def test_quantity_round_trip(milli: int) -> None:
    """Stored thousandths -> text -> parsed -> thousandths is the identity."""
    text = money.format_quantity(milli)
    assert "E" not in text and "e" not in text
    assert money.quantity_to_milli(money.parse_quantity(text)) == milli
    assert money.quantity_to_milli(money.milli_to_quantity(milli)) == milli


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ore", "expected"),
    [
        (-123450, f"{MINUS}1{NBSP}234,50{NBSP}kr"),
        (123450, f"1{NBSP}234,50{NBSP}kr"),
        (0, f"0,00{NBSP}kr"),
        (-50, f"{MINUS}0,50{NBSP}kr"),
        (100000000, f"1{NBSP}000{NBSP}000,00{NBSP}kr"),
        (61200, f"612,00{NBSP}kr"),
    ],
)
def test_format_amount_swedish(ore: int, expected: str) -> None:
    """CLDR sv (SWEDISH-RULES.md "Formatting amounts"): U+00A0 grouping, decimal comma, U+2212 minus."""
    assert money.format_amount(ore) == expected
    assert money.format_amount(ore, "sv") == expected


@given(ore_amounts)
def test_format_amount_swedish_never_uses_hyphen_or_plain_space(ore: int) -> None:
    """CLDR sv: minusSign is U+2212 and the grouping separator U+00A0; a PDF font must carry both."""
    text = money.format_amount(ore)
    assert "-" not in text
    assert " " not in text
    assert text.startswith(MINUS) == (ore < 0)
    assert text.endswith(f"{NBSP}kr")


def test_format_amount_english_keeps_hyphen_minus() -> None:
    """CLDR en: minusSign is U+002D; the swap to the locale's own sign must not invent a U+2212."""
    assert money.format_amount(-123450, "en_US") == "-SEK1,234.50"
    assert money.format_amount(123450, "en_US") == "SEK1,234.50"


@given(st.integers(min_value=1, max_value=10_000))
def test_a_discount_in_basis_points_is_written_exactly_with_two_decimals(basis_points: int) -> None:
    """The API's ``discount_percent`` (hundredths of a percent stored as integers): the same text
    as the exact decimal rounded to two places, never a float's."""
    from kvitt.core.money import format_percent_bp

    assert format_percent_bp(basis_points) == f"{Decimal(basis_points) / 100:.2f}"
    assert format_percent_bp(1250) == "12.50" and format_percent_bp(5) == "0.05"
