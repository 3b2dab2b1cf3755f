"""Swish Commerce API v2 fields: amounts, messages, aliases, instruction ids and error codes.

Sources (Getswish AB, "Swish Commerce API" / Merchant integration guide, and Kvitt's
SWEDISH-RULES, Swish):
- ``amount``: a string of kronor with at most two decimals and a period, from ``0.01`` to
  ``999999999999.99`` (``"431.00"``); answers and callbacks carry it as a JSON number.
- ``message``: at most 50 characters; the letters a-ö and A-Ö, the digits 0-9, space and the
  special characters ``:;.,?!()-"``.
- ``payeePaymentReference``: 1 to 35 letters and digits (Kvitt sends the OCR).
- ``payerAlias`` (e-commerce): the payer's mobile number with country code and no ``+`` or
  leading zero, 8 to 15 digits (``46701234567``); ``payeeAlias``: the merchant's Swish number.
- ``instructionUUID``: 32 upper-case hexadecimal characters, chosen by the merchant.
- Error codes: the ones the Merchant Swish Simulator produces on demand (``message`` equal to
  the code) and the validation codes of the API's 422 answers.

No I/O and no kvitt imports.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

MAX_MESSAGE = 50
MAX_REFERENCE = 35
MAX_AMOUNT_ORE = 999_999_999_999_99
SWEDISH_LETTERS = "åäöÅÄÖ"
MESSAGE_SPECIALS = ':;.,?!()-" '
_ALLOWED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + SWEDISH_LETTERS + MESSAGE_SPECIALS
)
_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")
_INSTRUCTION = re.compile(r"^[0-9A-F]{32}$")
_REFERENCE = re.compile(r"^[0-9A-Za-z]{1,35}$")
_ALIAS = re.compile(r"^[1-9][0-9]{7,14}$")
_TYPOGRAPHIC = {"”": '"', "“": '"', "„": '"', "’": "", "‘": "", "–": "-", "—": "-", "−": "-", "&": "och"}

# Swish's statuses of a payment request or refund, and what Kvitt calls them.
STATES = {"CREATED": "created", "PAID": "paid", "DECLINED": "declined", "ERROR": "error", "CANCELLED": "cancelled"}

# Error codes: what the payer is told (Swedish, English) and whether the request ends declined
# (the payer or their bank said no) or in error (something failed on the way).
ERRORS: dict[str, tuple[str, str, str]] = {
    "RF07": (
        "declined",
        "Betalningen nekades av Swish eller banken.",
        "The payment was declined by Swish or the bank.",
    ),
    "BANKIDCL": ("declined", "Betalningen avbröts i BankID.", "The payment was cancelled in BankID."),
    "BANKIDONGOING": (
        "error",
        "BankID används redan för en annan inloggning eller betalning.",
        "BankID is already in use for another login or payment.",
    ),
    "BANKIDUNKN": ("error", "BankID kunde inte svara.", "BankID could not answer."),
    "TM01": ("error", "Betalningen godkändes inte i tid.", "The payment was not approved in time."),
    "FF08": ("error", "Betalningsreferensen är ogiltig.", "The payment reference is invalid."),
    "BE18": ("declined", "Telefonnumret är ogiltigt.", "The phone number is invalid."),
    "ACMT03": ("declined", "Telefonnumret är inte anslutet till Swish.", "The phone number is not enrolled in Swish."),
    "ACMT01": ("declined", "Mottagaren kan inte ta emot Swish just nu.", "The payee cannot receive Swish right now."),
    "ACMT07": ("error", "Betalningsmottagaren är inte ansluten till Swish.", "The payee is not enrolled in Swish."),
    "RP06": (
        "declined",
        "Det finns redan en pågående Swish-betalning till det här numret.",
        "A Swish payment to this number is already in progress.",
    ),
    "AM02": ("declined", "Beloppet är för stort för Swish.", "The amount is too large for Swish."),
    "AM06": ("declined", "Beloppet är för litet för Swish.", "The amount is too small for Swish."),
    "AM21": ("declined", "Beloppet överskrider din Swish-gräns.", "The amount is over your Swish limit."),
    "DS24": ("error", "Swish fick inget svar från banken i tid.", "Swish got no answer from the bank in time."),
    "VR01": ("declined", "Betalaren uppfyller inte ålderskravet.", "The payer does not meet the age limit."),
    "VR02": ("declined", "Betalaren har inte rätt personnummer.", "The payer's personal number does not match."),
}
# The codes a 422 answer carries for a bad field (what the simulator checks, as Swish documents).
VALIDATION = {
    "FF08": "payeePaymentReference is invalid",
    "RP03": "callbackUrl is missing or does not use https",
    "BE18": "payerAlias is invalid",
    "RP01": "payeeAlias is missing",
    "PA02": "amount is missing or invalid",
    "AM06": "amount is less than 1.00 SEK",
    "AM02": "amount is too large",
    "AM03": "currency is missing or not supported",
    "RP02": "message is too long or holds characters Swish does not allow",
    "RP09": "the instruction UUID is not available (already used or not 32 upper-case hex)",
    "ACMT07": "payeeAlias is not the certificate's Swish number",
    "RF02": "originalPaymentReference names no paid payment of this payee",
    "RF04": "the refund's amount is more than is left of the original payment",
    "RF08": "the amount differs from what a refund can take",
    "RF03": "payerAlias is not the payee of the original payment",
}


class SwishFieldError(ValueError):
    """A value that a Swish field cannot carry."""


def amount_text(ore: int) -> str:
    """Öre as Swish's amount string (``43100`` → ``"431.00"``)."""
    if isinstance(ore, bool) or not isinstance(ore, int) or not 1 <= ore <= MAX_AMOUNT_ORE:
        raise SwishFieldError(f"not an amount Swish can carry (öre): {ore!r}")
    return f"{ore // 100}.{ore % 100:02d}"


def parse_amount(value: object) -> int:
    """Swish's amount (a string, or a number read as ``Decimal``) as öre; refuses fractions of öre."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise SwishFieldError(f"not a Swish amount: {value!r}")
    text = str(value)
    if isinstance(value, str) and not _AMOUNT.match(text):
        raise SwishFieldError(f"not a Swish amount: {value!r}")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise SwishFieldError(f"not a Swish amount: {value!r}") from None
    ore = number * 100
    if not number.is_finite() or ore != ore.to_integral_value() or not 0 < ore <= MAX_AMOUNT_ORE:
        raise SwishFieldError(f"not a Swish amount: {value!r}")
    return int(ore)


def sanitise_message(text: str) -> str:
    """A message Swish accepts: accents dropped (é → e, but å ä ö kept), typographic quotes and
    dashes made plain, other characters made spaces, spaces collapsed, at most 50 characters
    (cut at a word boundary when there is one in the last third)."""
    kept = []
    for char in unicodedata.normalize("NFC", text):
        char = _TYPOGRAPHIC.get(char, char)
        if all(c in _ALLOWED for c in char):
            kept.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        kept.append(base if base and all(c in _ALLOWED for c in base) else " ")
    message = " ".join("".join(kept).split())
    if len(message) <= MAX_MESSAGE:
        return message
    cut = message[: MAX_MESSAGE + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space >= MAX_MESSAGE * 2 // 3 else message[:MAX_MESSAGE]).rstrip()


def message_ok(text: str) -> bool:
    return len(text) <= MAX_MESSAGE and all(c in _ALLOWED for c in text)


def payer_alias(value: str) -> str:
    """A payer's mobile number as Swish wants it: ``070-123 45 67`` or ``+46 70 123 45 67`` →
    ``46701234567``."""
    text = re.sub(r"[\s\-()]", "", value or "")
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    elif text.startswith("0"):
        text = "46" + text[1:]
    if not (text.isascii() and _ALIAS.match(text)):
        raise SwishFieldError(f"not a mobile number Swish knows: {value!r}")
    return text


def alias_ok(value: str) -> bool:
    return bool(value.isascii() and _ALIAS.match(value))


def instruction_ok(value: str) -> bool:
    return bool(_INSTRUCTION.match(value))


def reference_ok(value: str) -> bool:
    return bool(value.isascii() and _REFERENCE.match(value))


def amount_ok(value: str) -> bool:
    try:
        return bool(_AMOUNT.match(value)) and 1 <= parse_amount(value) <= MAX_AMOUNT_ORE
    except SwishFieldError:
        return False


def outcome_of(status: str, error_code: str | None) -> str:
    """Kvitt's state for Swish's status (an ERROR whose code is a refusal is ``declined``)."""
    state = STATES.get(status.upper(), "error")
    if state in ("declined", "error") and error_code in ERRORS:
        return ERRORS[error_code][0]
    return state


def explain(error_code: str | None, locale: str = "sv") -> str:
    """What the payer is told for a code, in plain words."""
    known = ERRORS.get(error_code or "")
    if known is None:
        return "Betalningen gick inte igenom." if locale == "sv" else "The payment did not go through."
    return known[1] if locale == "sv" else known[2]
