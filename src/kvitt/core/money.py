"""Money rules: amounts are integers of öre; arithmetic with fractions uses Decimal.

Rounding is half up (0.5 öre and more rounds away from zero), the common Swedish
commercial rule and the one Skatteverket uses for VAT amounts (SKV "Momshandledningen":
the VAT may be rounded to whole öre).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_minus_sign_symbol

ORE_PER_KRONA = 100
QUANTITY_SCALE = 1000  # quantities are stored as integers of thousandths
MAX_QUANTITY_DECIMALS = 3


class MoneyError(ValueError):
    """An amount or quantity that Kvitt refuses."""


def round_to_ore(value: Decimal) -> int:
    """Round an amount in öre (a Decimal, possibly with fractions) to a whole öre, half up."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def round_to_krona(ore: int) -> int:
    """Round an amount in öre to whole kronor, half up (öresavrundning), in öre."""
    kronor = (Decimal(ore) / ORE_PER_KRONA).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(kronor) * ORE_PER_KRONA


def kronor_to_ore(value: Decimal | str | int) -> int:
    """Convert kronor (``"199.00"``) to öre, refusing fractions of an öre."""
    amount = _decimal(value, "amount")
    ore = amount * ORE_PER_KRONA
    if ore != ore.to_integral_value():
        raise MoneyError(f"amount {value} has more than 2 decimals")
    return int(ore)


def ore_to_kronor(ore: int) -> Decimal:
    return (Decimal(ore) / ORE_PER_KRONA).quantize(Decimal("0.01"))


def parse_quantity(value: Decimal | str | int) -> Decimal:
    """A quantity with at most three decimals, as a Decimal."""
    quantity = _decimal(value, "quantity")
    exponent = quantity.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_QUANTITY_DECIMALS:
        normalized = quantity.normalize()
        exp = normalized.as_tuple().exponent
        if isinstance(exp, int) and exp < -MAX_QUANTITY_DECIMALS:
            raise MoneyError(f"quantity {value} has more than {MAX_QUANTITY_DECIMALS} decimals")
        quantity = normalized
    return quantity


def quantity_to_milli(quantity: Decimal) -> int:
    return int(quantity * QUANTITY_SCALE)


def milli_to_quantity(milli: int) -> Decimal:
    return (Decimal(milli) / QUANTITY_SCALE).normalize() if milli else Decimal(0)


def format_quantity(milli: int) -> str:
    """A quantity as a plain decimal string without exponent (``"2.5"``, ``"10"``)."""
    return format(milli_to_quantity(milli), "f")


def format_percent_bp(basis_points: int) -> str:
    """Hundredths of a percent as the API writes a percentage: two decimals, exact (``1250`` →
    ``"12.50"``), by integer arithmetic, not through a float."""
    whole, hundredths = divmod(basis_points, 100)
    return f"{whole}.{hundredths:02d}"


def format_amount(ore: int, locale: str = "sv_SE", currency: str = "SEK") -> str:
    """Human format, e.g. ``−1 234,50 kr`` in Swedish (U+00A0 grouping, U+2212 minus).

    Babel writes the minus of CLDR's negative pattern as a hyphen-minus whatever the locale;
    CLDR's ``sv`` minusSign is U+2212, so the hyphen is swapped for the locale's own sign.
    """
    text = format_currency(ore_to_kronor(ore), currency, locale=locale)
    if ore < 0:
        text = text.replace("-", get_minus_sign_symbol(locale), 1)
    return text


def _decimal(value: Decimal | str | int, what: str) -> Decimal:
    if isinstance(value, float):
        raise MoneyError(f"{what} must not be a float")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{what} {value!r} is not a number") from exc
    if not result.is_finite():
        raise MoneyError(f"{what} {value!r} is not a number")
    return result
