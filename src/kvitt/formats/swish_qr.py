"""Prefilled Swish payments: the QR code's C-format string and the app link.

Sources:
- Getswish AB, "Guide Swish QR code" / QR code design specification, prefilled codes in the
  C-format: ``C<payee>;<amount>;<message>;<editable mask>``. The amount uses a decimal comma;
  the message is URL-encoded; the mask says which fields the payer may change: payee 1,
  amount 2, message 4 (a set bit = editable, 0 = all locked). (Kvitt's SWEDISH-RULES, Swish.)
- Getswish AB, app-switch for prefilled private payments:
  ``swish://payment?data=<URL-encoded JSON>`` with ``version`` 1 and ``payee``, ``amount`` and
  ``message`` objects, each ``{"value": ..., "editable": bool}``; the amount in kronor.
- Swish messages: at most 50 characters (Swish Commerce API v2, ``message``; the app shows no
  more). Payee numbers: Swish numbers are 10 digits (``123 xxx xx xx`` for companies); a
  private person's mobile number is also accepted by the app.

No I/O and no kvitt imports: the web invoice and the PDF both call these.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote, unquote

PAYEE_EDITABLE = 1
AMOUNT_EDITABLE = 2
MESSAGE_EDITABLE = 4
ALL_LOCKED = 0
MAX_MESSAGE_LENGTH = 50
# Swish's own largest single payment is far below this; anything larger is a bug upstream.
MAX_AMOUNT_ORE = 99_999_999_99


class SwishError(ValueError):
    """A payee, amount or message that a prefilled Swish payment cannot carry."""


def payee_number(value: str) -> str:
    """The payee as Swish wants it: digits only (``123-456 78 90`` → ``1234567890``).

    A Swedish mobile number written ``+46 70 ...`` becomes ``070...``, the national form the
    app shows; company Swish numbers (``123...``) are 10 digits.
    """
    text = value.strip().replace(" ", "").replace("-", "")
    if text.startswith("+46"):
        text = "0" + text[3:]
    if not (text.isascii() and text.isdigit() and 8 <= len(text) <= 15):
        raise SwishError(f"not a Swish number: {value!r}")
    return text


def amount_text(ore: int) -> str:
    """Öre as kronor with a decimal comma and two decimals (``61200`` → ``612,00``)."""
    _check_amount(ore)
    return f"{ore // 100},{ore % 100:02d}"


def _check_amount(ore: int) -> None:
    if isinstance(ore, bool) or not isinstance(ore, int) or ore <= 0 or ore > MAX_AMOUNT_ORE:
        raise SwishError(f"not a payable amount in öre: {ore!r}")


def _check_message(message: str) -> None:
    if len(message) > MAX_MESSAGE_LENGTH:
        raise SwishError(f"a Swish message holds at most {MAX_MESSAGE_LENGTH} characters: {message!r}")
    if any(ch in message for ch in "\r\n"):
        raise SwishError("a Swish message is one line")


def c_format(payee: str, ore: int, message: str, editable: int = ALL_LOCKED) -> str:
    """The QR content ``C<payee>;<amount>;<message>;<mask>`` with payee, amount and message locked
    by default (the payer only confirms)."""
    if not 0 <= editable <= PAYEE_EDITABLE | AMOUNT_EDITABLE | MESSAGE_EDITABLE:
        raise SwishError(f"editable mask out of range: {editable}")
    _check_message(message)
    return f"C{payee_number(payee)};{amount_text(ore)};{quote(message, safe='')};{editable}"


def parse_c_format(content: str) -> tuple[str, int, str, int]:
    """(payee, öre, message, mask) of a C-format string; the inverse of :func:`c_format`."""
    if not content.startswith("C") or content.count(";") != 3:
        raise SwishError(f"not a Swish C-format string: {content!r}")
    payee, amount, message, mask = content[1:].split(";")
    kronor, _, ore = amount.partition(",")
    if not (kronor.isdigit() and ore.isdigit() and len(ore) == 2 and mask.isdigit()):
        raise SwishError(f"not a Swish C-format string: {content!r}")
    return payee, int(kronor) * 100 + int(ore), unquote(message), int(mask)


def app_link(payee: str, ore: int, message: str) -> str:
    """``swish://payment?data=...``: opens the Swish app on a phone with everything filled in and
    locked (the app-switch link for prefilled payments)."""
    _check_amount(ore)
    _check_message(message)
    data = {
        "version": 1,
        "payee": {"value": payee_number(payee), "editable": False},
        # Kronor as a JSON number with two decimals: Decimal keeps it exact (never float).
        "amount": {"value": "__AMOUNT__", "editable": False},
        "message": {"value": message, "editable": False},
    }
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace('"__AMOUNT__"', str(Decimal(ore).scaleb(-2)))
    return "swish://payment?data=" + quote(text, safe="")
