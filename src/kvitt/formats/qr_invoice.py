"""The payment QR code of a Swedish invoice in the UsingQR format (free to use), as text.

UsingQR (Usingtech AB, "UsingQR specification", revision 2, June 2014; used on Visma's invoices)
is one line of compact JSON. The fields Kvitt writes, in the order of the specification:

=====  =========================================================================================
uqr    format version, the number 1
tp     document type: 1 = invoice
nme    the payee's name
cc     the payee's country, ISO 3166-1 alpha-2 ("SE")
cid    the payee's organisation number (or VAT number)
iref   the reference to pay with: the OCR number, or the invoice number without one
idt    invoice date, ``YYYYMMDD``
ddt    due date, ``YYYYMMDD``
due    the amount to pay, a JSON number with two decimals (``612.00``)
cur    currency, ISO 4217 ("SEK")
pt     payment type: ``BG`` bankgiro, ``PG`` plusgiro, ``BBAN``, ``IBAN``
acc    the account in that payment type (a bankgiro number as written, ``5050-1055``)
=====  =========================================================================================

``due``: the published samples write it as a JSON number (``"due":2500.0000`` on a Visma invoice
reproduced by Petter Reinholdtsen, 2016); Kvitt's reference sheet (SWEDISH-RULES.md) shows a
string (``"due":"50"``). Kvitt writes a number, as the real invoices do, formatted from öre with
exactly two decimals: the text is built from integers, never through a float.

The text is pure ASCII: other characters are JSON escapes (``"Fj\u00e4llstr\u00f6m"``), so the
code reads the same whatever character set a scanner assumes for the QR code's bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

VERSION = 1
TYPE_INVOICE = 1
PAYMENT_TYPES = ("BG", "PG", "BBAN", "IBAN")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


class QrInvoiceError(ValueError):
    """Data that cannot make a valid UsingQR code."""


@dataclass(frozen=True)
class QrInvoice:
    payee_name: str
    country: str
    company_id: str
    reference: str
    invoice_date: date
    due_date: date
    amount_ore: int
    currency: str
    payment_type: str
    account: str


def amount_text(ore: int) -> str:
    """Öre as a decimal with two decimals, ``61200`` → ``612.00`` (integer arithmetic only)."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor}.{rest:02d}"


def encode(invoice: QrInvoice) -> str:
    """The UsingQR JSON text for the invoice, compact (no spaces), fields in the spec's order."""
    _check(invoice)
    fields: list[tuple[str, object]] = [
        ("uqr", VERSION),
        ("tp", TYPE_INVOICE),
        ("nme", invoice.payee_name),
        ("cc", invoice.country),
        ("cid", invoice.company_id),
        ("iref", invoice.reference),
        ("idt", invoice.invoice_date.strftime("%Y%m%d")),
        ("ddt", invoice.due_date.strftime("%Y%m%d")),
        ("due", _Raw(amount_text(invoice.amount_ore))),
        ("cur", invoice.currency),
        ("pt", invoice.payment_type),
        ("acc", invoice.account),
    ]
    parts = [f"{json.dumps(key)}:{_value(value)}" for key, value in fields]
    return "{" + ",".join(parts) + "}"


@dataclass(frozen=True)
class _Raw:
    """A JSON number already written as text (so that no float ever holds the amount)."""

    text: str


def _value(value: object) -> str:
    if isinstance(value, _Raw):
        return value.text
    # Letters outside ASCII (å, ä, ö) as JSON escapes (\u00e4): a QR code's bytes have no agreed
    # character set (ISO/IEC 18004 says ISO 8859-1 without an ECI header, readers guess UTF-8 or
    # an East Asian code page: zbar reads UTF-8 "ä" as "瓣"), while an escape means the same to every JSON parser.
    return json.dumps(value, ensure_ascii=True)


def _check(invoice: QrInvoice) -> None:
    if not invoice.payee_name.strip():
        raise QrInvoiceError("nme: the payee's name is empty")
    if not _COUNTRY.fullmatch(invoice.country):
        raise QrInvoiceError(f"cc: {invoice.country!r} is not an ISO 3166 country code")
    if not _CURRENCY.fullmatch(invoice.currency):
        raise QrInvoiceError(f"cur: {invoice.currency!r} is not an ISO 4217 currency code")
    if invoice.payment_type not in PAYMENT_TYPES:
        raise QrInvoiceError(f"pt: {invoice.payment_type!r} is not one of {', '.join(PAYMENT_TYPES)}")
    if not invoice.account.strip():
        raise QrInvoiceError("acc: the account is empty")
    if not invoice.reference.strip():
        raise QrInvoiceError("iref: the reference is empty")
    if invoice.amount_ore <= 0:
        raise QrInvoiceError(f"due: {invoice.amount_ore} öre is nothing to pay")
    if invoice.due_date < invoice.invoice_date:
        raise QrInvoiceError("ddt: the due date is before the invoice date")
