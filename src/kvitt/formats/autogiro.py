"""Autogiro (new layout): the files a payee exchanges with Bankgirot, written and read.

Source: Bankgirot, "Autogiro Teknisk manual" (new layout), summarised in SWEDISH-RULES.md, and
Bankgirot's published example files (tests/data/bankgirot/autogiro_*.txt). Records are 80
characters, positions 1-based, ISO-8859-1, CRLF (LF also read); a short line is padded with
blanks (the examples leave trailing blanks out on many lines).

To Bankgirot (``write_orders``/``parse_orders``), sections each opened by a TK01 record
(date, ``AUTOGIRO``, BGC customer number 63-68, bankgiro 69-78):
- TK04 new mandate (payer number 13-28; account 29-44 = 4-digit clearing + 12-digit number;
  personal or organisation number 45-56; ``AV`` at 77-78 rejects a digital mandate), TK03
  cancel, TK05 change of payer number;
- TK82 debit and TK32 credit orders: date or ``GENAST`` 3-10, period code 11, repetitions
  12-14, payer number 16-31, amount in öre 32-43, bankgiro 44-53, reference 54-69.

From Bankgirot, each recognised by its opening record (``detect``):
- mandate advice ``AG-MEDAVI`` (TK73: information and comment codes; TK09 counts the TK73);
- payment specification ``BET. SPEC & STOPP TK``: TK15/16/17 open the debit, credit and
  refund sections (account, date, serial, amount, count), TK82/TK32 results with the status in
  position 80, TK77 refunds, TK09 closing (sections and records of each kind). A section's
  amount and count are those of its approved records (status 0): in the example, section 15
  holds eight TK82 and says 5 records of 15 000,00 kr, the five with status 0;
- rejected payment orders ``AVVISADE BET UPPDR``: TK82/TK32 with a comment code, TK09 with the
  number and sum of credits, then of debits (the example: 5 credits 1 282,00 kr, 3 debits
  875,51 kr).
Results delivered in BGMax format are read by ``kvitt.formats.bgmax`` (``detect`` names them).

A closing record or section opening whose counts or sums do not match the records is an
``AutogiroError`` naming the line: a caller applies nothing of such a file. Every problem in
the input is an ``AutogiroError`` naming the line and the field; nothing else escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "COMMENT_CODES",
    "INFORMATION_CODES",
    "PAYMENT_STATUS",
    "REJECTION_CODES",
    "AutogiroError",
    "CancelMandate",
    "ChangePayerNumber",
    "MandateAdvice",
    "MandateAdviceRecord",
    "NewMandate",
    "Opening",
    "OrderSection",
    "PaymentOrder",
    "PaymentSpec",
    "RejectedOrder",
    "RejectedOrders",
    "SpecRecord",
    "SpecSection",
    "detect",
    "parse_mandate_advice",
    "parse_orders",
    "parse_payment_spec",
    "parse_rejected",
    "write_mandate_advice",
    "write_orders",
    "write_payment_spec",
    "write_rejected",
]

ENCODING = "iso-8859-1"
RECORD_LENGTH = 80
DEBIT = "debit"
CREDIT = "credit"
REFUND = "refund"

# TK73 information codes (what happened to the mandate) with the manual's texts.
INFORMATION_CODES: dict[str, str] = {
    "03": "Makulering: Initierat av betalningsmottagaren.",
    "04": "Nyupplägg: Initierat av betalningsmottagaren.",
    "05": "Byte av betalarnummer: Initierat av betalningsmottagaren.",
    "10": "Makulerat på grund av att betalningsmottagarens bankgironummer är avslutat.",
    "42": "Svar på kontoförfrågan från bank på ny betalare i Autogiro.",
    "43": "Makulerat/borttaget på grund av obesvarad kontoförfrågan.",
    "44": "Makulerat på grund av att betalarens bankgironummer är avslutat.",
    "46": "Makulering: Initierat av betalaren eller betalarens bank.",
}
# TK73 comment codes (the outcome) with the manual's texts.
COMMENT_CODES: dict[str, str] = {
    "02": "Medgivandet är makulerat på initiativ av betalaren eller betalarens bank.",
    "03": "Kontoslaget är inte godkänt för Autogiro.",
    "04": "Medgivandet saknas i Bankgirots Medgivanderegister.",
    "05": "Felaktiga bankkonto- eller personuppgifter.",
    "07": "Makulerat/borttaget på grund av obesvarad kontoförfrågan.",
    "09": "Betalarbankgironumret saknas hos Bankgirot.",
    "10": "Medgivandet finns redan upplagt i Bankgirots register eller är under förfrågan.",
    "20": "Felaktigt person-/organisationsnummer eller avtal om medgivande med bankgironummer saknas.",
    "21": "Felaktigt betalarnummer.",
    "23": "Felaktigt bankkontonummer.",
    "29": "Mottagarbankgironummer är felaktigt.",
    "30": "Mottagarbankgironummer är avregistrerat.",
    "32": "Nytt Medgivande.",
    "33": "Makulerad.",
    "98": "Medgivandet är makulerat på grund av makulerat betalarbankgironummer.",
}
# Status in position 80 of a payment specification's TK82/TK32 (SWEDISH-RULES.md; check the
# manual for codes beyond these four).
PAYMENT_STATUS: dict[int, str] = {
    0: "Godkänd: beloppet är draget/insatt.",
    1: "Täckning saknas.",
    2: "Medgivande saknas eller kontot är avslutat.",
    9: "Förnyad täckningskontroll: ett nytt försök görs.",
}
# Comment codes of rejected payment orders (AVVISADE BET UPPDR).
REJECTION_CODES: dict[str, str] = {
    "01": "Utgår, medgivande saknas.",
    "02": "Utgår, bankkontot är ännu ej godkänt, alternativt ännu ej debiterbart, alternativt avslutat.",
    "03": "Utgår, medgivande stoppat.",
    "04": "Felaktigt betalarnummer.",
    "05": "Felaktigt bankgironummer.",
    "06": "Felaktig periodkod.",
    "07": "Felaktigt antal självförnyande uppdrag.",
    "08": "Beloppet är inte numeriskt.",
    "09": "Förbud mot utbetalningar.",
    "10": "Bankgironumret saknas hos Bankgirot.",
    "12": "Felaktigt betalningsdatum.",
    "13": "Passerat betalningsdatum.",
    "15": "Bankgironumret i öppningsposten och i transaktionsposten är inte detsamma.",
    "24": "Beloppet överstiger maxbeloppet.",
}

Day = date  # for annotations inside classes that have a field named date

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class AutogiroError(ValueError):
    """An autogiro file (or a record to write) that breaks the layout; names the line and field."""

    def __init__(self, message: str, *, line: int, field: str) -> None:
        super().__init__(f"line {line}, {field}: {message}")
        self.message = message
        self.line = line
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_error, (self.message, self.line, self.field))


def _rebuild_error(message: str, line: int, field: str) -> AutogiroError:
    return AutogiroError(message, line=line, field=field)


# --- fields: (name, first position, length, kind) ------------------------------------------------
# kinds: "num" digits without leading zeros (None when optional and blank), "digits" digits as
# written (None when blank), "amount" öre, "date", "date|GENAST" (None = GENAST), "datetime",
# "int", "int?" (blank = None), "text" left-aligned, "code" two digits, "av" the flag ``AV``,
# "=<text>" a constant, "_" filler (written blank, not read).


@dataclass(frozen=True, slots=True)
class _F:
    name: str
    start: int
    length: int
    kind: str


def _layout(*fields: tuple[str, int, int, str]) -> tuple[_F, ...]:
    return tuple(_F(*f) for f in fields)


_ORDERS_OPENING = _layout(
    ("date", 3, 8, "date"),
    ("layout", 11, 8, "=AUTOGIRO"),
    ("_", 19, 44, "_"),
    ("bgc_customer_number", 63, 6, "num"),
    ("bankgiro", 69, 10, "num"),
)
_TK04 = _layout(
    ("bankgiro", 3, 10, "num"),
    ("payer_number", 13, 16, "num"),
    ("account", 29, 16, "digits"),
    ("id_number", 45, 12, "digits"),
    ("_", 57, 20, "_"),
    ("reject", 77, 2, "av"),
)
_TK03 = _layout(("bankgiro", 3, 10, "num"), ("payer_number", 13, 16, "num"))
_TK05 = _layout(
    ("bankgiro", 3, 10, "num"),
    ("payer_number", 13, 16, "num"),
    ("new_bankgiro", 29, 10, "num"),
    ("new_payer_number", 39, 16, "num"),
)
_ORDER = _layout(
    ("date", 3, 8, "date|GENAST"),
    ("period", 11, 1, "int"),
    ("repetitions", 12, 3, "int?"),
    ("_", 15, 1, "_"),
    ("payer_number", 16, 16, "num"),
    ("amount", 32, 12, "amount"),
    ("bankgiro", 44, 10, "num"),
    ("reference", 54, 16, "text"),
)
_SPEC_OPENING = _layout(
    ("layout", 3, 8, "=AUTOGIRO"),
    ("_", 11, 14, "_"),
    ("created", 25, 20, "datetime"),
    ("name", 45, 20, "=BET. SPEC & STOPP TK"),
    ("bgc_customer_number", 65, 6, "num"),
    ("bankgiro", 71, 10, "num"),
)
_SPEC_SECTION = _layout(
    ("account", 3, 35, "num"),
    ("date", 38, 8, "date"),
    ("serial", 46, 5, "digits"),
    ("amount", 51, 18, "amount"),
    ("_", 69, 3, "_"),
    ("count", 72, 8, "int"),
)
_SPEC_RESULT = _layout(
    ("date", 3, 8, "date"),
    ("period", 11, 1, "int"),
    ("repetitions", 12, 3, "int?"),
    ("_", 15, 1, "_"),
    ("payer_number", 16, 16, "num"),
    ("amount", 32, 12, "amount"),
    ("bankgiro", 44, 10, "num"),
    ("reference", 54, 16, "text"),
    ("_", 70, 10, "_"),
    ("status", 80, 1, "int"),
)
_SPEC_REFUND = _layout(
    ("date", 3, 8, "date"),
    ("period", 11, 1, "int"),
    ("repetitions", 12, 3, "int?"),
    ("_", 15, 1, "_"),
    ("payer_number", 16, 16, "num"),
    ("amount", 32, 12, "amount"),
    ("bankgiro", 44, 10, "num"),
    ("reference", 54, 16, "text"),
    ("refund_date", 70, 8, "date"),
    ("refund_code", 78, 2, "code"),
)
_SPEC_CLOSING = _layout(
    ("date", 3, 8, "date"),
    ("layout", 11, 4, "=9900"),
    ("debit_sections", 15, 6, "int"),
    ("debit_records", 21, 12, "int"),
    ("credit_sections", 33, 6, "int"),
    ("credit_records", 39, 12, "int"),
    ("refund_sections", 51, 6, "int"),
    ("refund_records", 57, 12, "int"),
)
_ADVICE_OPENING = _layout(
    ("layout", 3, 8, "=AUTOGIRO"),
    ("_", 11, 14, "_"),
    ("date", 25, 8, "date"),
    ("_", 33, 12, "_"),
    ("name", 45, 9, "=AG-MEDAVI"),
    ("_", 54, 11, "_"),
    ("bgc_customer_number", 65, 6, "num"),
    ("bankgiro", 71, 10, "num"),
)
_TK73 = _layout(
    ("bankgiro", 3, 10, "num"),
    ("payer_number", 13, 16, "num"),
    ("account", 29, 16, "digits"),
    ("id_number", 45, 12, "digits"),
    ("_", 57, 5, "_"),
    ("information_code", 62, 2, "code"),
    ("comment_code", 64, 2, "code"),
    ("date", 66, 8, "date"),
)
_ADVICE_CLOSING = _layout(("date", 3, 8, "date"), ("layout", 11, 4, "=9900"), ("count", 15, 7, "int"))
_REJECTED_OPENING = _layout(
    ("layout", 3, 8, "=AUTOGIRO"),
    ("_", 11, 14, "_"),
    ("date", 25, 8, "date"),
    ("_", 33, 12, "_"),
    ("name", 45, 18, "=AVVISADE BET UPPDR"),
    ("_", 63, 2, "_"),
    ("bgc_customer_number", 65, 6, "num"),
    ("bankgiro", 71, 10, "num"),
)
_REJECTED = _layout(
    ("written_date", 3, 8, "digits"),  # as written: a wrong date (2008-06-33) is a reason to reject
    ("period", 11, 1, "int"),
    ("repetitions", 12, 3, "int?"),
    ("payer_number", 15, 16, "num"),
    ("amount", 31, 12, "amount"),
    ("reference", 43, 16, "text"),
    ("comment_code", 59, 2, "code"),
)
_REJECTED_CLOSING = _layout(
    ("date", 3, 8, "date"),
    ("layout", 11, 4, "=9900"),
    ("credit_count", 15, 6, "int"),
    ("credit_amount", 21, 12, "amount"),
    ("debit_count", 33, 6, "int"),
    ("debit_amount", 39, 12, "amount"),
)


# --- one record: decode and encode ---------------------------------------------------------------


def _decode_field(f: _F, raw: str, line: int) -> Any:
    kind = f.kind
    blank = raw.strip() == ""
    if kind in ("num", "digits", "amount", "int", "code"):
        if blank and kind in ("num", "digits"):
            return None
        if not raw.isdigit() or not raw.isascii():
            raise AutogiroError(f"expected {f.length} digits, got {raw!r}", line=line, field=f.name)
        if kind == "num":
            return str(int(raw))
        if kind in ("amount", "int"):
            return int(raw)
        return raw
    if kind == "int?":
        if blank:
            return None
        if not raw.strip().isdigit() or not raw.isascii():
            raise AutogiroError(f"expected digits or blanks, got {raw!r}", line=line, field=f.name)
        return int(raw)
    if kind in ("date", "date|GENAST"):
        if kind == "date|GENAST" and raw.rstrip() == "GENAST":
            return None
        return _date(raw, line, f.name)
    if kind == "datetime":
        if not raw.isdigit() or not raw.isascii():
            raise AutogiroError(f"expected YYYYMMDDhhmmss and 6 digits, got {raw!r}", line=line, field=f.name)
        try:
            # naive as written: Swedish local time, no offset in the file
            return datetime.strptime(raw[:14], "%Y%m%d%H%M%S").replace(microsecond=int(raw[14:]))  # noqa: DTZ007
        except ValueError:
            raise AutogiroError(f"not a date and time: {raw!r}", line=line, field=f.name) from None
    if kind == "text":
        return raw.rstrip(" ")
    if kind == "av":
        if raw not in ("AV", "  "):
            raise AutogiroError(f"expected AV or blanks, got {raw!r}", line=line, field=f.name)
        return raw == "AV"
    if kind.startswith("="):
        if raw != kind[1:]:
            raise AutogiroError(f"expected {kind[1:]!r}, got {raw!r}", line=line, field=f.name)
        return None
    return None  # filler


def _date(raw: str, line: int, name: str) -> date:
    if not raw.isdigit() or not raw.isascii() or len(raw) != 8:
        raise AutogiroError(f"expected a date YYYYMMDD, got {raw!r}", line=line, field=name)
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise AutogiroError(f"not a date: {raw!r}", line=line, field=name) from None


def _decode(layout: tuple[_F, ...], record: str, line: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in layout:
        value = _decode_field(f, record[f.start - 1 : f.start - 1 + f.length], line)
        if f.kind != "_" and not f.kind.startswith("="):
            values[f.name] = value
    return values


def _digits_field(f: _F, value: Any, line: int) -> str:
    if value is None:
        if f.kind in ("num", "digits"):
            return " " * f.length
        raise AutogiroError("is missing", line=line, field=f.name)
    text = str(value)
    if not text.isdigit() or not text.isascii() or len(text) > f.length:
        raise AutogiroError(f"{value!r} is not at most {f.length} digits", line=line, field=f.name)
    if f.kind == "num" and int(text) == 0 and f.name not in ("account", "count"):
        raise AutogiroError(f"{value!r} is zero", line=line, field=f.name)
    return text.zfill(f.length)


def _encode_field(f: _F, value: Any, line: int) -> str:
    kind = f.kind
    if kind in ("num", "digits", "amount", "int", "code"):
        if kind in ("amount", "int") and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise AutogiroError(f"{value!r} is not a whole non-negative number", line=line, field=f.name)
        if kind == "digits" and value is not None and len(str(value)) != f.length:
            raise AutogiroError(f"{value!r} is not {f.length} digits", line=line, field=f.name)
        return _digits_field(f, value, line)
    if kind == "int?":
        return " " * f.length if value is None else _digits_field(f, value, line)
    if kind in ("date", "date|GENAST"):
        if value is None and kind == "date|GENAST":
            return "GENAST  "
        if not isinstance(value, date):
            raise AutogiroError(f"{value!r} is not a date", line=line, field=f.name)
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if kind == "datetime":
        if not isinstance(value, datetime):
            raise AutogiroError(f"{value!r} is not a date and time", line=line, field=f.name)
        return value.strftime("%Y%m%d%H%M%S") + f"{value.microsecond:06d}"
    if kind == "text":
        return _text(f, value, line)
    if kind == "av":
        return "AV" if value else "  "
    if kind.startswith("="):
        return kind[1:]
    return " " * f.length


def _text(f: _F, value: Any, line: int) -> str:
    text = str(value)
    if len(text) > f.length:
        raise AutogiroError(f"{text!r} is longer than {f.length} characters", line=line, field=f.name)
    if _CONTROL.search(text) or text != text.rstrip(" "):
        raise AutogiroError(f"{text!r} holds a control character or trailing blanks", line=line, field=f.name)
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        raise AutogiroError(f"{text!r} is not ISO-8859-1", line=line, field=f.name) from None
    return text.ljust(f.length)


def _encode(tk: str, layout: tuple[_F, ...], values: dict[str, Any], line: int = 0) -> str:
    parts = [tk]
    position = 3
    for f in layout:
        if f.start > position:
            parts.append(" " * (f.start - position))
        parts.append(_encode_field(f, values.get(f.name), line))
        position = f.start + f.length
    return "".join(parts).ljust(RECORD_LENGTH)


def _assemble(records: Sequence[str]) -> bytes:
    return "".join(record + "\r\n" for record in records).encode(ENCODING)


def _lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, record padded to 80); blank lines skipped."""
    try:
        text = data.decode(ENCODING)
    except UnicodeDecodeError as exc:  # pragma: no cover - every byte is ISO-8859-1
        raise AutogiroError(str(exc), line=1, field="encoding") from exc
    for number, raw in enumerate(text.split("\n"), start=1):
        record = raw.removesuffix("\r")
        if not record.strip():
            continue
        if _CONTROL.search(record):
            raise AutogiroError("holds a control character", line=number, field="record")
        if len(record) > RECORD_LENGTH:
            if record[RECORD_LENGTH:].strip(" "):
                raise AutogiroError(f"is {len(record)} characters, longer than 80", line=number, field="record")
            record = record[:RECORD_LENGTH]  # blanks past 80 (the payment order example has 11)
        yield number, record.ljust(RECORD_LENGTH)


# --- to Bankgirot: mandate and payment orders ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opening:
    """TK01 of a file to Bankgirot: its date, the payee's BGC customer number and bankgiro."""

    date: date
    bgc_customer_number: str
    bankgiro: str


@dataclass(frozen=True, slots=True)
class NewMandate:
    """TK04: register a mandate (or, with ``reject``, turn down a digital mandate: ``AV``)."""

    payer_number: str
    account: str | None = None  # 16 digits: clearing (4) + account number zero-padded (12)
    id_number: str | None = None  # 12 digits: personal number, or organisation number as 00NNNNNNNNNN
    reject: bool = False
    line: int = field(default=0, compare=False)

    @staticmethod
    def account_of(clearing: str, number: str) -> str:
        return clearing + number.zfill(12)


@dataclass(frozen=True, slots=True)
class CancelMandate:
    """TK03: cancel the mandate of a payer number."""

    payer_number: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ChangePayerNumber:
    """TK05: the mandate's payer number changes (and, possibly, the payee bankgiro)."""

    payer_number: str
    new_payer_number: str
    new_bankgiro: str | None = None  # None: the opening's bankgiro
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """TK82 debit or TK32 credit. ``date`` None is ``GENAST`` (as soon as possible).

    Period codes: 0 once, 1 monthly, 2 quarterly, 3 half-yearly, 4 yearly on the date; 5-8 the
    same on the last banking day of the month. ``repetitions`` None: until cancelled.
    """

    kind: str  # debit | credit
    date: date | None
    payer_number: str
    amount: int  # öre
    reference: str = ""
    period: int = 0
    repetitions: int | None = None
    line: int = field(default=0, compare=False)


Order = NewMandate | CancelMandate | ChangePayerNumber | PaymentOrder


@dataclass(frozen=True, slots=True)
class OrderSection:
    opening: Opening
    orders: tuple[Order, ...]


def _order_record(order: Order, bankgiro: str, line: int) -> str:
    values: dict[str, Any]
    if isinstance(order, NewMandate):
        values = {"bankgiro": bankgiro, "payer_number": order.payer_number, "account": order.account}
        return _encode("04", _TK04, {**values, "id_number": order.id_number, "reject": order.reject}, line)
    if isinstance(order, CancelMandate):
        return _encode("03", _TK03, {"bankgiro": bankgiro, "payer_number": order.payer_number}, line)
    if isinstance(order, ChangePayerNumber):
        values = {"bankgiro": bankgiro, "payer_number": order.payer_number}
        values |= {"new_bankgiro": order.new_bankgiro or bankgiro, "new_payer_number": order.new_payer_number}
        return _encode("05", _TK05, values, line)
    if order.kind not in (DEBIT, CREDIT):
        raise AutogiroError(f"{order.kind!r} is neither debit nor credit", line=line, field="kind")
    _check_period(order.period, order.repetitions, line)
    values = {
        "date": order.date,
        "period": order.period,
        "repetitions": order.repetitions,
        "payer_number": order.payer_number,
        "amount": order.amount,
        "bankgiro": bankgiro,
        "reference": order.reference,
    }
    return _encode("82" if order.kind == DEBIT else "32", _ORDER, values, line)


def _check_period(period: int, repetitions: int | None, line: int) -> None:
    if not 0 <= period <= 8:
        raise AutogiroError(f"period code {period} is not 0-8", line=line, field="period")
    if repetitions is not None and not 1 <= repetitions <= 999:
        raise AutogiroError(f"repetitions {repetitions} is not 1-999", line=line, field="repetitions")


def write_orders(sections: Sequence[OrderSection]) -> bytes:
    """The file to Bankgirot: each section a TK01 opening and its orders."""
    records: list[str] = []
    for section in sections:
        opening = section.opening
        values = {"date": opening.date, "bgc_customer_number": opening.bgc_customer_number}
        records.append(_encode("01", _ORDERS_OPENING, values | {"bankgiro": opening.bankgiro}, len(records) + 1))
        bankgiro = str(int(opening.bankgiro)) if opening.bankgiro.isdigit() else opening.bankgiro
        for order in section.orders:
            records.append(_order_record(order, bankgiro, len(records) + 1))
    return _assemble(records)


def parse_orders(data: bytes) -> tuple[OrderSection, ...]:
    """Read a file of mandate and payment orders (what ``write_orders`` writes, or the examples)."""
    sections: list[OrderSection] = []
    opening: Opening | None = None
    orders: list[Order] = []
    for line, record in _lines(data):
        tk = record[:2]
        if tk == "01":
            if opening is not None:
                sections.append(OrderSection(opening, tuple(orders)))
            opening, orders = Opening(**_decode(_ORDERS_OPENING, record, line)), []
            continue
        if opening is None:
            raise AutogiroError("the file does not start with a TK01 opening", line=line, field="record type")
        orders.append(_read_order(tk, record, line, opening.bankgiro))
    if opening is None:
        raise AutogiroError("the file holds no TK01 opening", line=1, field="record type")
    sections.append(OrderSection(opening, tuple(orders)))
    return tuple(sections)


def _same_bankgiro(values: dict[str, Any], bankgiro: str, line: int) -> None:
    if values.pop("bankgiro") != bankgiro:
        raise AutogiroError(f"is not the opening's bankgiro {bankgiro}", line=line, field="bankgiro")


def _read_order(tk: str, record: str, line: int, bankgiro: str) -> Order:
    if tk == "04":
        values = _decode(_TK04, record, line)
        _same_bankgiro(values, bankgiro, line)
        return NewMandate(**values, line=line)
    if tk == "03":
        values = _decode(_TK03, record, line)
        _same_bankgiro(values, bankgiro, line)
        return CancelMandate(**values, line=line)
    if tk == "05":
        values = _decode(_TK05, record, line)
        _same_bankgiro(values, bankgiro, line)
        new_bankgiro = values.pop("new_bankgiro")
        return ChangePayerNumber(**values, new_bankgiro=None if new_bankgiro == bankgiro else new_bankgiro, line=line)
    if tk in ("82", "32"):
        values = _decode(_ORDER, record, line)
        _same_bankgiro(values, bankgiro, line)
        return PaymentOrder(kind=DEBIT if tk == "82" else CREDIT, **values, line=line)
    raise AutogiroError(f"record type {tk!r} is not a mandate or payment order", line=line, field="record type")


# --- from Bankgirot: mandate advice (AG-MEDAVI) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class MandateAdviceRecord:
    """TK73: what Bankgirot did with a mandate."""

    bankgiro: str
    payer_number: str
    account: str | None
    id_number: str | None
    information_code: str
    comment_code: str
    date: date
    line: int = field(default=0, compare=False)

    @property
    def information_text(self) -> str:
        return INFORMATION_CODES.get(self.information_code, f"Okänd informationskod {self.information_code}.")

    @property
    def comment_text(self) -> str:
        return COMMENT_CODES.get(self.comment_code, f"Okänd kommentarskod {self.comment_code}.")

    @property
    def outcome(self) -> str:
        """``active`` (a new mandate accepted), ``cancelled``, ``rejected``, or for a change of
        payer number (information 05): ``payer_number_changed`` (comment 32, the record names the
        new number), ``payer_number_replaced`` (comment 33, the record names the old number,
        which no longer holds a mandate) or ``change_rejected`` (any other comment: the change
        was refused, the old number stands)."""
        if self.comment_code == "32" and self.information_code in ("04", "42"):
            return "active"
        if self.information_code == "05":
            return {"32": "payer_number_changed", "33": "payer_number_replaced"}.get(
                self.comment_code, "change_rejected"
            )
        if self.comment_code in ("02", "07", "33", "98") or self.information_code in ("10", "43", "44", "46"):
            return "cancelled"
        return "rejected"


@dataclass(frozen=True, slots=True)
class MandateAdvice:
    date: date
    bgc_customer_number: str
    bankgiro: str
    records: tuple[MandateAdviceRecord, ...]


def parse_mandate_advice(data: bytes) -> MandateAdvice:
    lines = list(_lines(data))
    opening = _opening(lines, "01", _ADVICE_OPENING)
    records: list[MandateAdviceRecord] = []
    closing: dict[str, Any] | None = None
    for line, record in lines[1:]:
        tk = record[:2]
        _after_closing(closing, line)
        if tk == "73":
            records.append(MandateAdviceRecord(**_decode(_TK73, record, line), line=line))
        elif tk == "09":
            closing = _decode(_ADVICE_CLOSING, record, line) | {"line": line}
            if closing["count"] != len(records):
                message = f"says {closing['count']} TK73 records, the file holds {len(records)}"
                raise AutogiroError(message, line=line, field="count")
        else:
            raise AutogiroError(
                f"record type {tk!r} does not belong in a mandate advice", line=line, field="record type"
            )
    _closed(closing, lines)
    return MandateAdvice(opening["date"], opening["bgc_customer_number"], opening["bankgiro"], tuple(records))


def write_mandate_advice(advice: MandateAdvice) -> bytes:
    """The advice as Bankgirot writes it (for round trips and test doubles)."""
    opening = {"date": advice.date, "bgc_customer_number": advice.bgc_customer_number, "bankgiro": advice.bankgiro}
    records = [_encode("01", _ADVICE_OPENING, opening)]
    for r in advice.records:
        values = {
            "bankgiro": r.bankgiro,
            "payer_number": r.payer_number,
            "account": r.account,
            "id_number": r.id_number,
            "information_code": r.information_code,
            "comment_code": r.comment_code,
            "date": r.date,
        }
        records.append(_encode("73", _TK73, values, len(records) + 1))
    records.append(_encode("09", _ADVICE_CLOSING, {"date": advice.date, "count": len(advice.records)}))
    return _assemble(records)


def _opening(lines: list[tuple[int, str]], tk: str, layout: tuple[_F, ...]) -> dict[str, Any]:
    if not lines or lines[0][1][:2] != tk:
        raise AutogiroError(
            "the file does not start with a TK01 opening", line=lines[0][0] if lines else 1, field="record type"
        )
    return _decode(layout, lines[0][1], lines[0][0])


def _after_closing(closing: dict[str, Any] | None, line: int) -> None:
    if closing is not None:
        raise AutogiroError(
            f"a record after the TK09 closing record of line {closing['line']}", line=line, field="record type"
        )


def _closed(closing: dict[str, Any] | None, lines: list[tuple[int, str]]) -> None:
    if closing is None:
        raise AutogiroError("the file ends without its TK09 closing record", line=lines[-1][0], field="record type")


# --- from Bankgirot: payment specification (BET. SPEC & STOPP TK) ---------------------------------

_SECTION_KIND = {"15": DEBIT, "16": CREDIT, "17": REFUND}
_SECTION_TK = {DEBIT: "15", CREDIT: "16", REFUND: "17"}
_RESULT_KIND = {"82": DEBIT, "32": CREDIT, "77": REFUND}
_RESULT_TK = {DEBIT: "82", CREDIT: "32", REFUND: "77"}


@dataclass(frozen=True, slots=True)
class SpecRecord:
    """TK82 debit / TK32 credit result (with its status) or TK77 refund."""

    kind: str
    date: date
    period: int
    repetitions: int | None
    payer_number: str
    amount: int
    bankgiro: str
    reference: str
    status: int | None = None  # TK82/TK32: 0 approved, 1 insufficient funds, 2 no mandate, 9 renewed
    refund_date: Day | None = None  # TK77
    refund_code: str | None = None  # TK77
    line: int = field(default=0, compare=False)

    @property
    def approved(self) -> bool:
        return self.kind == REFUND or self.status == 0

    @property
    def status_text(self) -> str:
        if self.status is None:
            return "Återbetald."
        return PAYMENT_STATUS.get(self.status, f"Okänd status {self.status}.")


@dataclass(frozen=True, slots=True)
class SpecSection:
    """TK15 (debits), TK16 (credits) or TK17 (refunds) and its records."""

    kind: str
    account: str
    date: date
    serial: str
    amount: int
    count: int
    records: tuple[SpecRecord, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class PaymentSpec:
    created: datetime
    bgc_customer_number: str
    bankgiro: str
    date: date  # the closing record's
    sections: tuple[SpecSection, ...]

    @property
    def records(self) -> tuple[SpecRecord, ...]:
        return tuple(r for s in self.sections for r in s.records)


class _SpecReader:
    def __init__(self) -> None:
        self.sections: list[SpecSection] = []
        self.open: dict[str, Any] | None = None
        self.records: list[SpecRecord] = []
        self.closing: dict[str, Any] | None = None

    def feed(self, line: int, record: str) -> None:
        tk = record[:2]
        _after_closing(self.closing, line)
        if tk in _SECTION_KIND:
            self.close_section()
            self.open = _decode(_SPEC_SECTION, record, line) | {"kind": _SECTION_KIND[tk], "line": line}
        elif tk in _RESULT_KIND:
            self.result(tk, record, line)
        elif tk == "09":
            self.close_section()
            self.closing = _decode(_SPEC_CLOSING, record, line) | {"line": line}
            self.check_closing()
        else:
            raise AutogiroError(
                f"record type {tk!r} does not belong in a payment specification", line=line, field="record type"
            )

    def result(self, tk: str, record: str, line: int) -> None:
        kind = _RESULT_KIND[tk]
        if self.open is None or self.open["kind"] != kind:
            raise AutogiroError(f"a TK{tk} outside a TK{_SECTION_TK[kind]} section", line=line, field="record type")
        layout = _SPEC_REFUND if kind == REFUND else _SPEC_RESULT
        self.records.append(SpecRecord(kind=kind, **_decode(layout, record, line), line=line))

    def close_section(self) -> None:
        if self.open is None:
            return
        opened, self.open = self.open, None
        approved = [r for r in self.records if r.approved]
        total = sum(r.amount for r in approved)
        if (opened["count"], opened["amount"]) != (len(approved), total):
            message = (
                f"the section says {opened['count']} records of {opened['amount']} öre; "
                f"its approved records are {len(approved)} of {total} öre"
            )
            raise AutogiroError(message, line=opened["line"], field="count and amount")
        self.sections.append(SpecSection(**opened, records=tuple(self.records)))
        self.records = []

    def check_closing(self) -> None:
        assert self.closing is not None
        for kind in (DEBIT, CREDIT, REFUND):
            sections = [s for s in self.sections if s.kind == kind]
            found = (len(sections), sum(s.count for s in sections))
            said = (self.closing[f"{kind}_sections"], self.closing[f"{kind}_records"])
            if found != said:
                message = (
                    f"says {said[0]} {kind} sections with {said[1]} records; the file holds {found[0]} with {found[1]}"
                )
                raise AutogiroError(message, line=self.closing["line"], field=f"{kind} sections and records")


def parse_payment_spec(data: bytes) -> PaymentSpec:
    lines = list(_lines(data))
    opening = _opening(lines, "01", _SPEC_OPENING)
    reader = _SpecReader()
    for line, record in lines[1:]:
        reader.feed(line, record)
    _closed(reader.closing, lines)
    assert reader.closing is not None
    return PaymentSpec(
        created=opening["created"],
        bgc_customer_number=opening["bgc_customer_number"],
        bankgiro=opening["bankgiro"],
        date=reader.closing["date"],
        sections=tuple(reader.sections),
    )


def write_payment_spec(spec: PaymentSpec) -> bytes:
    """The specification as Bankgirot writes it; section counts and sums from the records."""
    opening = {"created": spec.created, "bgc_customer_number": spec.bgc_customer_number, "bankgiro": spec.bankgiro}
    records = [_encode("01", _SPEC_OPENING, opening)]
    closing: dict[str, Any] = {"date": spec.date}
    for kind in (DEBIT, CREDIT, REFUND):
        sections = [s for s in spec.sections if s.kind == kind]
        closing[f"{kind}_sections"] = len(sections)
        closing[f"{kind}_records"] = sum(sum(1 for r in s.records if r.approved) for s in sections)
    for s in spec.sections:
        approved = [r for r in s.records if r.approved]
        values = {"account": s.account, "date": s.date, "serial": s.serial}
        values |= {"amount": sum(r.amount for r in approved), "count": len(approved)}
        records.append(_encode(_SECTION_TK[s.kind], _SPEC_SECTION, values, len(records) + 1))
        for r in s.records:
            records.append(_spec_record(r, len(records) + 1))
    records.append(_encode("09", _SPEC_CLOSING, closing))
    return _assemble(records)


def _spec_record(r: SpecRecord, line: int) -> str:
    values = {
        "date": r.date,
        "period": r.period,
        "repetitions": r.repetitions,
        "payer_number": r.payer_number,
        "amount": r.amount,
        "bankgiro": r.bankgiro,
        "reference": r.reference,
    }
    if r.kind == REFUND:
        values |= {"refund_date": r.refund_date, "refund_code": r.refund_code}
        return _encode("77", _SPEC_REFUND, values, line)
    if r.status is None or not 0 <= r.status <= 9:
        raise AutogiroError(f"status {r.status!r} is not one digit", line=line, field="status")
    return _encode(_RESULT_TK[r.kind], _SPEC_RESULT, values | {"status": r.status}, line)


# --- from Bankgirot: rejected payment orders (AVVISADE BET UPPDR) ---------------------------------


@dataclass(frozen=True, slots=True)
class RejectedOrder:
    kind: str  # debit | credit
    written_date: str  # YYYYMMDD as the order gave it (comment 12: not a date)
    period: int
    repetitions: int | None
    payer_number: str
    amount: int
    reference: str
    comment_code: str
    line: int = field(default=0, compare=False)

    @property
    def date(self) -> date | None:
        try:
            return _date(self.written_date, self.line, "date")
        except AutogiroError:
            return None

    @property
    def comment_text(self) -> str:
        return REJECTION_CODES.get(self.comment_code, f"Okänd kommentarskod {self.comment_code}.")


@dataclass(frozen=True, slots=True)
class RejectedOrders:
    date: date
    bgc_customer_number: str
    bankgiro: str
    records: tuple[RejectedOrder, ...]


def parse_rejected(data: bytes) -> RejectedOrders:
    lines = list(_lines(data))
    opening = _opening(lines, "01", _REJECTED_OPENING)
    records: list[RejectedOrder] = []
    closing: dict[str, Any] | None = None
    for line, record in lines[1:]:
        tk = record[:2]
        _after_closing(closing, line)
        if tk in ("82", "32"):
            kind = DEBIT if tk == "82" else CREDIT
            records.append(RejectedOrder(kind=kind, **_decode(_REJECTED, record, line), line=line))
        elif tk == "09":
            closing = _decode(_REJECTED_CLOSING, record, line) | {"line": line}
            _check_rejected_closing(closing, records)
        else:
            message = f"record type {tk!r} does not belong in a list of rejected orders"
            raise AutogiroError(message, line=line, field="record type")
    _closed(closing, lines)
    return RejectedOrders(opening["date"], opening["bgc_customer_number"], opening["bankgiro"], tuple(records))


def _check_rejected_closing(closing: dict[str, Any], records: list[RejectedOrder]) -> None:
    for kind in (CREDIT, DEBIT):
        mine = [r for r in records if r.kind == kind]
        found = (len(mine), sum(r.amount for r in mine))
        said = (closing[f"{kind}_count"], closing[f"{kind}_amount"])
        if found != said:
            message = f"says {said[0]} {kind}s of {said[1]} öre; the file holds {found[0]} of {found[1]} öre"
            raise AutogiroError(message, line=closing["line"], field=f"{kind} count and amount")


def write_rejected(rejected: RejectedOrders) -> bytes:
    opening = {
        "date": rejected.date,
        "bgc_customer_number": rejected.bgc_customer_number,
        "bankgiro": rejected.bankgiro,
    }
    records = [_encode("01", _REJECTED_OPENING, opening)]
    for r in rejected.records:
        values = {
            "written_date": r.written_date,
            "period": r.period,
            "repetitions": r.repetitions,
            "payer_number": r.payer_number,
            "amount": r.amount,
            "reference": r.reference,
            "comment_code": r.comment_code,
        }
        records.append(_encode("82" if r.kind == DEBIT else "32", _REJECTED, values, len(records) + 1))
    closing: dict[str, Any] = {"date": rejected.date}
    for kind in (CREDIT, DEBIT):
        mine = [r for r in rejected.records if r.kind == kind]
        closing |= {f"{kind}_count": len(mine), f"{kind}_amount": sum(r.amount for r in mine)}
    records.append(_encode("09", _REJECTED_CLOSING, closing))
    return _assemble(records)


# --- which file is it ----------------------------------------------------------------------------


def detect(data: bytes) -> str:
    """The kind of an autogiro file by its opening record: ``mandate_advice``, ``payment_spec``,
    ``rejected``, ``bgmax`` (results in BGMax format) or ``orders`` (a file to Bankgirot)."""
    for _line, record in _lines(data):
        if record.startswith("01BGMAX"):
            return "bgmax"
        if record[:2] == "01" and record[10:18] == "AUTOGIRO":
            return "orders"
        if record[:10] == "01AUTOGIRO":
            name = record[32:64].strip()
            if record[44:64] == "BET. SPEC & STOPP TK":
                return "payment_spec"
            if name == "AG-MEDAVI":
                return "mandate_advice"
            if name == "AVVISADE BET UPPDR":
                return "rejected"
        raise AutogiroError("not an autogiro file Kvitt reads (unknown opening record)", line=_line, field="opening")
    raise AutogiroError("the file is empty", line=1, field="opening")
