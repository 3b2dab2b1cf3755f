"""Swedish identity numbers, phone numbers and giro numbers.

Sources:
- Skatteverket SKV 704 "Personnummer": YYMMDD-NNNC, C a Luhn (10-modulus) check digit over the
  last ten digits; Folkbokföringslagen (1991:481) 18 §: the hyphen becomes ``+`` from the year
  the person turns 100.
- Folkbokföringslagen 18 a § and Skatteverket SKV 707 "Samordningsnummer": like a
  personnummer with 60 added to the day of birth (Skatteverket's example 701063-2391).
- Bolagsverket / Skatteverket SKV 709 "Organisationsnummer": ten digits NNNNNN-NNNC, Luhn check
  digit.
- ITU-T E.164 and PTS's Swedish numbering plan: +46, then the national number without its
  trunk prefix 0.
- Bankgirot: a bankgiro number has 7 or 8 digits, the last a 10-modulus check digit; PlusGirot
  (Nordea): 2 to 8 digits, the last a 10-modulus check digit.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from kvitt.core import identity


def with_check_digit(body: str) -> str:
    """Append the Luhn digit (computed, never guessed)."""
    return body + luhn.calc_check_digit(body)


# --- personnummer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("811218-9876", "198112189876"),  # SKV 704's example
        ("8112189876", "198112189876"),
        ("811218 9876", "198112189876"),
        ("19811218-9876", "198112189876"),
        ("198112189876", "198112189876"),
        ("811218+9876", "188112189876"),  # aged 100 or more: born 1881
        ("18811218+9876", "188112189876"),
    ],
)
def test_valid_personnummer(value: str, expected: str) -> None:
    """SKV 704 and Folkbokföringslagen 18 § (the + for those aged 100): 12 digits YYYYMMDDNNNN out."""
    assert identity.personal_number(value) == expected


def test_personnummer_born_this_century() -> None:
    """SKV 704: a 10-digit number belongs to the latest century that is not in the future."""
    number = with_check_digit("000101010")
    assert identity.personal_number(f"{number[:6]}-{number[6:]}") == "20" + number


@pytest.mark.parametrize(
    "value",
    [
        "811218-9875",  # wrong check digit
        "19811218-9875",
        "811218-987",  # too short
        "811218-98761",  # too long
        "811218*9876",
        "abcdef-ghij",
        "",
        "811260-9876",  # day 60 is neither a birth day nor a coordination day (61-91)
    ],
)
def test_invalid_personnummer(value: str) -> None:
    """SKV 704: ten digits (twelve with the century), a real date, a Luhn check digit."""
    with pytest.raises(ValueError, match="personal number"):
        identity.personal_number(value)


@pytest.mark.parametrize("body", ["811332987", "810230987", "810000987", "810100987"])
def test_personnummer_with_impossible_date_is_refused_even_with_right_check_digit(body: str) -> None:
    """SKV 704: the first six digits are the date of birth (month 13, 30 February, month 0, day 0)."""
    number = with_check_digit(body)
    assert luhn.is_valid(number)
    with pytest.raises(ValueError):
        identity.personal_number(f"{number[:6]}-{number[6:]}")


# --- samordningsnummer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("701063-2391", "197010632391"),  # Skatteverket's example (born 3 October 1970, day 3 + 60)
        ("7010632391", "197010632391"),
        ("19701063-2391", "197010632391"),
    ],
)
def test_valid_samordningsnummer(value: str, expected: str) -> None:
    """Folkbokföringslagen 18 a §, SKV 707: the day plus 60; kept as written (not turned back into a date)."""
    assert identity.personal_number(value) == expected


def test_invalid_samordningsnummer() -> None:
    """SKV 707: day 61–91 only (3 October + 60 = 63; 92 would be the 32nd), and the Luhn digit still holds."""
    with pytest.raises(ValueError):
        identity.personal_number("701063-2392")  # wrong check digit
    too_late = with_check_digit("701092239")
    with pytest.raises(ValueError):
        identity.personal_number(too_late)
    not_in_february = with_check_digit("700290239")  # 30 February + 60
    with pytest.raises(ValueError):
        identity.personal_number(not_in_february)


@given(st.dates(), st.integers(min_value=0, max_value=999), st.booleans())
def test_any_valid_birth_date_and_serial_gives_a_valid_number(birth: date, serial: int, coordination: bool) -> None:
    """SKV 704 / SKV 707: any date, any serial, the Luhn digit over the last ten digits."""
    day = birth.day + (60 if coordination else 0)
    body = f"{birth.year:04d}{birth.month:02d}{day:02d}{serial:03d}"
    number = body + luhn.calc_check_digit(body[2:])
    assert identity.personal_number(f"{number[:8]}-{number[8:]}") == number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(ValueError):
        identity.personal_number(f"{wrong[:8]}-{wrong[8:]}")


# --- organisationsnummer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("556036-0793", "556036-0793"),
        ("5560360793", "556036-0793"),
        ("556016-0680", "556016-0680"),
        ("212000-0142", "212000-0142"),  # a government authority (group 2)
        (" 556036-0793 ", "556036-0793"),
    ],
)
def test_valid_organisation_numbers(value: str, expected: str) -> None:
    """SKV 709: ten digits with a Luhn check digit, written NNNNNN-NNNN."""
    assert identity.organisation_number(value) == expected


@pytest.mark.parametrize("value", ["556036-0794", "556036-079", "55603607931", "55603A-0793", ""])
def test_invalid_organisation_numbers(value: str) -> None:
    """SKV 709: wrong check digit, wrong length, not digits."""
    with pytest.raises(ValueError, match="organisation number"):
        identity.organisation_number(value)


def test_customer_id_numbers() -> None:
    """Individuals: personnummer (SKV 704). Companies: organisationsnummer (SKV 709) or, for an
    enskild firma, the owner's personnummer."""
    assert identity.customer_id_number("811218-9876", "individual") == "198112189876"
    assert identity.customer_id_number("5560360793", "company") == "556036-0793"
    assert identity.customer_id_number("19811218-9876", "company") == "198112189876"
    with pytest.raises(ValueError, match="personal number"):
        identity.customer_id_number("556036-0793", "individual")  # month 60: not a person
    with pytest.raises(ValueError, match="organisation number"):
        identity.customer_id_number("556036-0794", "company")


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("070-123 45 67", "+46701234567"),
        ("0701234567", "+46701234567"),
        ("+46 70 123 45 67", "+46701234567"),
        ("+46701234567", "+46701234567"),
        ("0046 70 123 45 67", "+46701234567"),
        ("+46 (0)70-123 45 67", "+46701234567"),  # the trunk 0 in brackets is not dialled after +46
        ("+46 070-123 45 67", "+46701234567"),  # nor is it when written without brackets
        ("08-123 456 78", "+46812345678"),  # Stockholm
        ("(08) 123 456 78", "+46812345678"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+44 (0)20 7946 0018", "+442079460018"),
    ],
)
def test_phone_numbers_to_e164(value: str, expected: str) -> None:
    """ITU-T E.164 and the PTS numbering plan: +46 and the national number without the trunk 0."""
    assert identity.phone_e164(value) == expected


@pytest.mark.parametrize("value", ["12", "abc", "+46", "", "+0701234567", "070 123 45 67 89 01 23 45"])
def test_invalid_phone_numbers(value: str) -> None:
    """ITU-T E.164: a country code that does not start with 0 and at most 15 digits."""
    with pytest.raises(ValueError, match=r"E\.164"):
        identity.phone_e164(value)


# --- bankgiro and plusgiro --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5050-1055", "5050-1055"),
        ("50501055", "5050-1055"),
        ("991-2346", "991-2346"),
        ("9912346", "991-2346"),
        ("5050 1055", "5050-1055"),
    ],
)
def test_valid_bankgiro_numbers(value: str, expected: str) -> None:
    """Bankgirot: 7 or 8 digits, a 10-modulus check digit, written NNN-NNNN or NNNN-NNNN."""
    assert identity.bankgiro_number(value) == expected


@pytest.mark.parametrize("value", ["5050-1056", "991-2347", "505-105", "5050-10550", "5050-105X", ""])
def test_invalid_bankgiro_numbers(value: str) -> None:
    """Bankgirot: wrong check digit, wrong length, not digits."""
    with pytest.raises(ValueError, match="bankgiro"):
        identity.bankgiro_number(value)


@given(st.text(alphabet="0123456789", min_size=6, max_size=7))
def test_bankgiro_check_digit_property(body: str) -> None:
    """Bankgirot: the last digit is the 10-modulus check digit, and any other last digit is refused."""
    number = with_check_digit(body)
    assert identity.bankgiro_number(number).replace("-", "") == number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(ValueError):
        identity.bankgiro_number(wrong)


@pytest.mark.parametrize("body", ["1", "28654", "4789507", "1234567"])
def test_valid_plusgiro_numbers(body: str) -> None:
    """PlusGirot: 2 to 8 digits, a 10-modulus check digit, written with a hyphen before it."""
    number = with_check_digit(body)
    assert identity.plusgiro_number(number) == f"{body}-{number[-1]}"
    spaced = " ".join(number[i : i + 2] for i in range(0, len(number), 2))
    assert identity.plusgiro_number(spaced) == f"{body}-{number[-1]}"


@pytest.mark.parametrize("value", ["4789507-6", "1", "123456789-0", "12A4-5", ""])
def test_invalid_plusgiro_numbers(value: str) -> None:
    """PlusGirot: wrong check digit (4789507 takes 3), too short, too long, not digits."""
    assert luhn.calc_check_digit("4789507") == "3"
    with pytest.raises(ValueError, match="plusgiro"):
        identity.plusgiro_number(value)


def test_email_addresses() -> None:
    """A plausible address (local@domain.tld) of at most 254 characters (RFC 5321 4.5.3.1.3 path limit)."""
    assert identity.email_address("astrid@example.se") == "astrid@example.se"
    for bad in ["astrid", "astrid@example", "a b@example.se", "@example.se", "a@" + "x" * 250 + ".se"]:
        with pytest.raises(ValueError):
            identity.email_address(bad)
