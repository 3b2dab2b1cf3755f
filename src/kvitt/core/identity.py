"""Swedish identity numbers, phone numbers and bankgiro numbers: validated and normalised."""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import orgnr, personnummer

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def personal_number(value: str) -> str:
    """A personnummer (or samordningsnummer) as 12 digits, ``YYYYMMDDNNNN``.

    Sources: Skatteverket SKV 704 (personnummer: birth date, serial, Luhn check digit);
    Folkbokföringslagen (1991:481) 18 § (``+`` instead of ``-`` from the year one turns 100)
    and 18 a § with SKV 707 (samordningsnummer: the day of birth plus 60).
    python-stdnum's ``personnummer`` does not know samordningsnummer, so the date is checked
    here with the 60 taken off, and the Luhn digit on the number as written.
    """
    compact = personnummer.compact(value)
    digits = compact[:-5] + compact[-4:]
    if len(compact) not in (11, 13) or compact[-5] not in "-+" or not digits.isdigit():
        raise ValueError(f"not a valid Swedish personal number: {value}")
    day = int(compact[-7:-5])
    dated = compact if day <= 60 else f"{compact[:-7]}{day - 60:02d}{compact[-5:]}"
    try:
        birth = personnummer.get_birth_date(dated)
        luhn.validate(digits[-10:])
    except ValidationError as exc:
        raise ValueError(f"not a valid Swedish personal number: {value}") from exc
    return f"{birth.year // 100:02d}{digits}" if len(digits) == 10 else digits


def organisation_number(value: str) -> str:
    """An organisationsnummer as ``NNNNNN-NNNN`` (Bolagsverket; Luhn check digit)."""
    try:
        return str(orgnr.format(orgnr.validate(value)))
    except ValidationError as exc:
        raise ValueError(f"not a valid Swedish organisation number: {value}") from exc


def customer_id_number(value: str, customer_type: str) -> str:
    """Individuals have a personal number; companies an organisation number, or, for a
    sole trader (enskild firma), the owner's personal number."""
    if customer_type == "individual":
        return personal_number(value)
    try:
        return organisation_number(value)
    except ValueError:
        try:
            return personal_number(value)
        except ValueError:
            raise ValueError(f"not a valid Swedish organisation number: {value}") from None


def phone_e164(value: str) -> str:
    """A phone number in E.164; Swedish national numbers (``070-123 45 67``) get +46.

    The trunk prefix 0 is dropped after the country code, as in ``+46 (0)70-123 45 67`` or
    ``+46 070 123 45 67`` (ITU-T E.164: the national significant number follows the country
    code; no Swedish one starts with 0, PTS numbering plan).
    """
    digits = re.sub(r"[\s\-()]", "", value.replace("(0)", "") if value.lstrip().startswith(("+", "00")) else value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+46" + digits[1:]
    if digits.startswith("+460"):
        digits = "+46" + digits[4:]
    if not _E164.match(digits):
        raise ValueError(f"not a phone number in E.164 form (+46701234567): {value}")
    return digits


def email_address(value: str) -> str:
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError(f"not an email address: {value}")
    return value


def bankgiro_number(value: str) -> str:
    """A bankgiro number, 7 or 8 digits with a Luhn check digit, written ``NNN-NNNN``/``NNNN-NNNN``."""
    digits = value.replace("-", "").replace(" ", "")
    if not (digits.isdigit() and len(digits) in (7, 8) and luhn.is_valid(digits)):
        raise ValueError(f"not a valid bankgiro number: {value}")
    return f"{digits[:-4]}-{digits[-4:]}"


def plusgiro_number(value: str) -> str:
    """A plusgiro number, 2 to 8 digits with a Luhn check digit, written ``NNNNNNN-N``."""
    digits = value.replace("-", "").replace(" ", "")
    if not (digits.isdigit() and 2 <= len(digits) <= 8 and luhn.is_valid(digits)):
        raise ValueError(f"not a valid plusgiro number: {value}")
    return f"{digits[:-1]}-{digits[-1]}"
