"""BGMax: Bankgirot's payment report for Bankgiro Inbetalningar (Bankgiro Receivables).

Source: Bankgirot, "Bankgiro Inbetalningar Teknisk manual" (record and file description of
the BgMax file), summarised in SWEDISH-RULES.md, and Bankgirot's published example files
(tests/data/bankgirot/). A file is one TK01 start record, then deposits (TK05 opening, the
payments TK20/TK21 each followed by its TK22/23/25-29 records, TK15 deposit record), then one
TK70 end record. Records are 80 characters, positions 1-based, ISO-8859-1, CRLF (LF also read);
short lines are padded with blanks; record types the manual does not describe are ignored.

What the example files settle:
- A deposit's TK15 amount is the sum of its TK20 payments minus its TK21 deductions (the
  deduction's amount is positive in the file): the first deposit of the OCR example has
  1000.00 - 500.00 + 1400.00 = 1900.00. The amounts of TK22/TK23 extra references are not
  part of the sum (they are zero in the example; the TK20 carries the money).
- The TK15 count is the number of TK20 and TK21 records, TK22/TK23 not included (3 in the
  example's first deposit: two TK20 and one TK21, beside four TK22).
- References: an OCR reference (code 2) is right-aligned in positions 13-37, other
  references left-aligned; autogiro payments in BGMax (channel 4) carry the payer number
  left-aligned with code 2, a blank BGC serial and a blank image flag. The reader strips
  blanks; the writer reproduces these alignments.

The reader is a single streaming pass (``iter_deposits``), memory bounded by one deposit;
``parse`` and ``validate`` are built on it. Every problem in the input is a ``BgmaxError``
naming the line and the field; nothing else escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = [
    "BgmaxDeposit",
    "BgmaxError",
    "BgmaxFile",
    "BgmaxHeader",
    "BgmaxPayment",
    "ExtraReference",
    "file_of",
    "iter_deposits",
    "parse",
    "read_header",
    "validate",
    "write",
]

RECORD_LENGTH = 80
LAYOUT = "BGMAX"
VERSION = "01"
ENCODING = "iso-8859-1"

# C0 controls, DEL and C1 controls never belong in a record (a tab, a stray CR, a NUL, or the
# 0x80-0x9F bytes of a file written in another code page).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BYTES = re.compile(b"[\x00-\x1f\x7f-\x9f]")
_MAX_AMOUNT = 10**18  # 18 digits of öre
_MAX_COUNT = 10**8  # 8 digits

PAYMENT = "payment"
DEDUCTION = "deduction"

_PAYMENT_DETAIL = frozenset({"22", "23", "25", "26", "27", "28", "29"})
_KNOWN = frozenset({"01", "05", "15", "20", "21", "70"}) | _PAYMENT_DETAIL


class BgmaxError(ValueError):
    """A BGMax file (or a file to write) that breaks the format; names the line and field."""

    def __init__(self, message: str, *, line: int, field: str) -> None:
        super().__init__(f"line {line}, {field}: {message}")
        self.message = message
        self.line = line
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:  # keep it picklable (keyword-only arguments)
        return (_rebuild_error, (self.message, self.line, self.field))


def _rebuild_error(message: str, line: int, field: str) -> BgmaxError:
    return BgmaxError(message, line=line, field=field)


# --- the data --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExtraReference:
    """TK22 extra reference (TK23 when the amount is negative), belonging to a payment."""

    reference: str
    amount: int
    reference_code: int
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BgmaxPayment:
    """A TK20 payment or TK21 deduction with the TK22/23/25-29 records that follow it."""

    kind: str
    payer_bankgiro: str
    reference: str
    amount: int
    reference_code: int
    channel: int
    bgc_serial: str
    has_image: bool
    deduction_code: int | None = None
    extra_references: tuple[ExtraReference, ...] = ()
    free_text: tuple[str, ...] = ()
    payer_name: str | None = None
    payer_address: str | None = None
    payer_postcode: str | None = None
    payer_city: str | None = None
    payer_country: str | None = None
    payer_country_code: str | None = None
    payer_org_number: str | None = None
    line: int = field(default=0, compare=False)

    @property
    def signed_amount(self) -> int:
        """The amount as it counts in the deposit: negative for a deduction."""
        return -self.amount if self.kind == DEDUCTION else self.amount


@dataclass(frozen=True, slots=True)
class BgmaxDeposit:
    """A TK05 opening, its payments and the closing TK15 deposit record."""

    payee_bankgiro: str
    payee_plusgiro: str | None
    currency: str
    payments: tuple[BgmaxPayment, ...]
    account: str
    date: date
    deposit_serial: str
    amount: int
    count: int
    deposit_type: str = ""
    line: int = field(default=0, compare=False)

    @property
    def payee_bankgiro_number(self) -> str:
        """The payee's bankgiro as people write it: ``991-2346``, ``5050-1055``."""
        return _format_bankgiro(self.payee_bankgiro)


@dataclass(frozen=True, slots=True)
class BgmaxHeader:
    """TK01 start record."""

    version: str
    created: datetime
    test: bool
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BgmaxFile:
    header: BgmaxHeader
    deposits: tuple[BgmaxDeposit, ...]
    payment_count: int
    deduction_count: int
    extra_reference_count: int
    deposit_count: int


def _format_bankgiro(digits: str) -> str:
    number = digits.lstrip("0") or "0"
    return f"{number[:-4]}-{number[-4:]}" if len(number) > 4 else number


def file_of(header_created: datetime, deposits: list[BgmaxDeposit], *, test: bool = False) -> BgmaxFile:
    """A ``BgmaxFile`` for ``deposits`` with the TK70 counts computed."""
    payments = [payment for deposit in deposits for payment in deposit.payments]
    return BgmaxFile(
        header=BgmaxHeader(version=VERSION, created=header_created, test=test),
        deposits=tuple(deposits),
        payment_count=sum(1 for payment in payments if payment.kind == PAYMENT),
        deduction_count=sum(1 for payment in payments if payment.kind == DEDUCTION),
        extra_reference_count=sum(len(payment.extra_references) for payment in payments),
        deposit_count=len(deposits),
    )


# --- reading ---------------------------------------------------------------------------------


def _digits(text: str) -> bool:
    # str.isdigit() alone also accepts "²" and other Unicode digits.
    return text.isascii() and text.isdigit()


class _Record:
    """One record, padded to 80 characters, with field readers that raise ``BgmaxError``."""

    __slots__ = ("line", "text", "type")

    def __init__(self, line: int, text: str) -> None:
        self.line = line
        self.text = text.ljust(RECORD_LENGTH)
        self.type = text[:2]

    def raw(self, start: int, end: int) -> str:
        return self.text[start - 1 : end]

    def text_field(self, start: int, end: int) -> str:
        return self.raw(start, end).strip(" ")

    def optional(self, start: int, end: int) -> str | None:
        return self.text_field(start, end) or None

    def error(self, message: str, name: str, start: int, end: int | None = None) -> BgmaxError:
        where = f"{start}" if end is None or end == start else f"{start}-{end}"
        return BgmaxError(message, line=self.line, field=f"TK{self.type} {name} ({where})")

    def number(self, start: int, end: int, name: str) -> int:
        value = self.raw(start, end)
        if not _digits(value):
            raise self.error(f"must be {end - start + 1} digits, got {value!r}", name, start, end)
        return int(value)

    def digit(self, position: int, name: str, allowed: range) -> int:
        value = self.raw(position, position)
        if not _digits(value) or int(value) not in allowed:
            raise self.error(f"must be a digit {allowed[0]}-{allowed[-1]}, got {value!r}", name, position)
        return int(value)

    def date(self, start: int, end: int, name: str) -> date:
        value = self.raw(start, end)
        if _digits(value):
            try:
                return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
            except ValueError:
                pass
        raise self.error(f"not a date YYYYMMDD: {value!r}", name, start, end)


def _records(lines: Iterable[bytes]) -> Iterator[_Record]:
    """Decoded records; checks the record length and that no control character is inside."""
    for number, raw in enumerate(lines, start=1):
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > RECORD_LENGTH:
            raise BgmaxError(
                f"record is {len(raw)} characters, at most {RECORD_LENGTH} allowed", line=number, field="record length"
            )
        bad = _CONTROL_BYTES.search(raw)
        if bad is not None:
            raise BgmaxError(
                f"control character {bad.group()!r} at position {bad.start() + 1}", line=number, field="record"
            )
        yield _Record(number, raw.decode(ENCODING))


def split_lines(data: bytes) -> Iterator[bytes]:
    """The lines of a file held in memory, one at a time (no list of every line), with their ends."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start : end + 1]
        start = end + 1


def _header(record: _Record | None) -> BgmaxHeader:
    if record is None or record.type != "01":
        line = 1 if record is None else record.line
        raise BgmaxError("a BGMax file starts with a TK01 start record", line=line, field="TK01 start record")
    if record.text_field(3, 22) != LAYOUT:
        raise record.error(f"layout must be {LAYOUT!r}, got {record.raw(3, 22).strip()!r}", "layout name", 3, 22)
    version = record.raw(23, 24)
    if version != VERSION:
        raise record.error(f"version must be {VERSION!r}, got {version!r}", "version", 23, 24)
    stamp = record.raw(25, 44)
    created: datetime | None = None
    if _digits(stamp):
        try:
            created = datetime(  # noqa: DTZ001 - naive as written: Swedish local time, no offset in the file
                int(stamp[0:4]),
                int(stamp[4:6]),
                int(stamp[6:8]),
                int(stamp[8:10]),
                int(stamp[10:12]),
                int(stamp[12:14]),
                int(stamp[14:20]),
            )
        except ValueError:
            created = None
    if created is None:
        raise record.error(f"not a timestamp YYYYMMDDHHMMSSffffff: {stamp!r}", "timestamp", 25, 44)
    flag = record.raw(45, 45)
    if flag not in ("T", "P"):
        raise record.error(f"test flag must be 'T' or 'P', got {flag!r}", "test flag", 45)
    return BgmaxHeader(version=version, created=created, test=flag == "T", line=record.line)


def read_header(lines: Iterable[bytes]) -> BgmaxHeader:
    """The TK01 start record of a file (reads only its first line)."""
    return _header(next(_records(lines), None))


@dataclass
class _OpenPayment:
    kind: str
    payer_bankgiro: str
    reference: str
    amount: int
    reference_code: int
    channel: int
    bgc_serial: str
    has_image: bool
    deduction_code: int | None
    line: int
    extra_references: list[ExtraReference] = field(default_factory=list)
    free_text: list[str] = field(default_factory=list)
    details: dict[str, str | None] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def close(self) -> BgmaxPayment:
        get = self.details.get
        return BgmaxPayment(
            kind=self.kind,
            payer_bankgiro=self.payer_bankgiro,
            reference=self.reference,
            amount=self.amount,
            reference_code=self.reference_code,
            channel=self.channel,
            bgc_serial=self.bgc_serial,
            has_image=self.has_image,
            deduction_code=self.deduction_code,
            extra_references=tuple(self.extra_references),
            free_text=tuple(self.free_text),
            payer_name=get("name"),
            payer_address=get("address"),
            payer_postcode=get("postcode"),
            payer_city=get("city"),
            payer_country=get("country"),
            payer_country_code=get("country_code"),
            payer_org_number=get("org_number"),
            line=self.line,
        )


@dataclass
class _OpenDeposit:
    payee_bankgiro: str
    payee_plusgiro: str | None
    currency: str
    line: int
    payments: list[BgmaxPayment] = field(default_factory=list)
    payment: _OpenPayment | None = None

    def close_payment(self) -> None:
        if self.payment is not None:
            self.payments.append(self.payment.close())
            self.payment = None


class _Reader:
    """The streaming state machine behind ``iter_deposits``, ``validate`` and ``parse``."""

    def __init__(self) -> None:
        self.header: BgmaxHeader | None = None
        self.end: tuple[int, int, int, int] | None = None
        self.payments = 0
        self.deductions = 0
        self.extra_references = 0
        self.deposits = 0
        self._deposit: _OpenDeposit | None = None

    def read(self, lines: Iterable[bytes]) -> Iterator[BgmaxDeposit]:
        records = _records(lines)
        last_line = 0
        try:
            self.header = _header(next(records, None))
            last_line = 1
            blank_line = 0  # an empty line is only allowed at the end of the file
            for record in records:
                last_line = record.line
                if self.end is None and not record.text.strip(" "):
                    blank_line = blank_line or record.line
                    continue
                if blank_line and self.end is None:
                    raise BgmaxError("empty line inside the file", line=blank_line, field="record")
                try:
                    deposit = self._record(record)
                except BgmaxError:
                    raise
                except (IndexError, ValueError, UnicodeError, OverflowError) as exc:  # a safety net
                    raise BgmaxError(f"unreadable record: {exc}", line=record.line, field="record") from exc
                if deposit is not None:
                    yield deposit
        except BgmaxError:
            raise
        except (IndexError, ValueError, UnicodeError, OverflowError) as exc:
            raise BgmaxError(f"unreadable input: {exc}", line=last_line + 1, field="record") from exc
        if self.end is None:
            raise BgmaxError(
                "the file ends without a TK70 end record (truncated?)", line=last_line + 1, field="TK70 end record"
            )

    def _record(self, record: _Record) -> BgmaxDeposit | None:
        kind = record.type
        if self.end is not None:
            if record.text.strip(" "):
                raise BgmaxError("no record may follow the TK70 end record", line=record.line, field="record")
            return None  # empty trailing lines
        if not _digits(kind) or len(kind) != 2:
            raise BgmaxError(
                f"record type must be two digits, got {kind!r}", line=record.line, field="record type (1-2)"
            )
        if kind not in _KNOWN:
            return None  # the manual: record types not described are to be ignored
        if kind == "01":
            raise BgmaxError("a second TK01 start record", line=record.line, field="TK01 start record")
        if kind == "05":
            self._open(record)
        elif kind in ("20", "21"):
            self._payment(record)
        elif kind in _PAYMENT_DETAIL:
            self._detail(record)
        elif kind == "15":
            return self._close(record)
        else:  # "70"
            self._end(record)
        return None

    def _current_deposit(self, record: _Record) -> _OpenDeposit:
        if self._deposit is None:
            raise BgmaxError(
                "outside a deposit (no TK05 opening record before it)",
                line=record.line,
                field=f"TK{record.type} record",
            )
        return self._deposit

    def _open(self, record: _Record) -> None:
        if self._deposit is not None:
            raise BgmaxError(
                f"a new deposit opens before the deposit opened on line {self._deposit.line} was closed by a TK15",
                line=record.line,
                field="TK05 opening record",
            )
        bankgiro = record.raw(3, 12)
        if not _digits(bankgiro):
            raise record.error(f"must be 10 digits, got {bankgiro!r}", "payee bankgiro", 3, 12)
        plusgiro = record.optional(13, 22)
        if plusgiro is not None and not _digits(record.raw(13, 22)):
            raise record.error(f"must be 10 digits or blank, got {record.raw(13, 22)!r}", "payee plusgiro", 13, 22)
        currency = record.raw(23, 25)
        if not (currency.isascii() and currency.isalpha() and currency.isupper()):
            raise record.error(f"must be a currency code such as 'SEK', got {currency!r}", "currency", 23, 25)
        self._deposit = _OpenDeposit(bankgiro, plusgiro, currency, record.line)

    def _payment(self, record: _Record) -> None:
        deposit = self._current_deposit(record)
        deposit.close_payment()
        deduction = record.type == "21"
        bankgiro = record.raw(3, 12)
        if not _digits(bankgiro):
            raise record.error(f"must be 10 digits, got {bankgiro!r}", "payer bankgiro", 3, 12)
        amount = record.number(38, 55, "amount")
        reference_code = record.digit(56, "reference code", range(6))
        channel = record.digit(57, "channel", range(1, 5))
        image = record.raw(70, 70)
        if image not in ("0", "1", " "):
            raise record.error(f"image flag must be '0', '1' or blank, got {image!r}", "image flag", 70)
        deduction_code: int | None = None
        if deduction and record.raw(71, 71) != " ":
            deduction_code = record.digit(71, "deduction code", range(10))
        if deduction:
            self.deductions += 1
        else:
            self.payments += 1
        deposit.payment = _OpenPayment(
            kind=DEDUCTION if deduction else PAYMENT,
            payer_bankgiro=bankgiro,
            reference=record.text_field(13, 37),
            amount=amount,
            reference_code=reference_code,
            channel=channel,
            bgc_serial=record.raw(58, 69),
            has_image=image == "1",
            deduction_code=deduction_code,
            line=record.line,
        )

    def _detail(self, record: _Record) -> None:
        deposit = self._current_deposit(record)
        payment = deposit.payment
        if payment is None:
            raise BgmaxError(
                "not attached to a payment (no TK20 or TK21 before it in this deposit)",
                line=record.line,
                field=f"TK{record.type} record",
            )
        kind = record.type
        if kind in ("22", "23"):
            amount = record.number(38, 55, "amount")
            payment.extra_references.append(
                ExtraReference(
                    reference=record.text_field(13, 37),
                    amount=-amount if kind == "23" else amount,
                    reference_code=record.digit(56, "reference code", range(6)),
                    line=record.line,
                )
            )
            self.extra_references += 1
            return
        if kind == "25":
            payment.free_text.append(record.text_field(3, 52))
            return
        if kind in payment.seen:
            raise BgmaxError(
                f"a second TK{kind} for the payment on line {payment.line}", line=record.line, field=f"TK{kind} record"
            )
        payment.seen.add(kind)
        details = payment.details
        if kind == "26":
            name, extra = record.text_field(3, 37), record.text_field(38, 72)
            details["name"] = (f"{name} {extra}" if name and extra else name or extra) or None
        elif kind == "27":
            details["address"] = record.optional(3, 37)
            details["postcode"] = record.optional(38, 46)
        elif kind == "28":
            details["city"] = record.optional(3, 37)
            details["country"] = record.optional(38, 72)
            details["country_code"] = record.optional(73, 74)
        else:  # "29"
            details["org_number"] = record.optional(3, 14)

    def _close(self, record: _Record) -> BgmaxDeposit:
        deposit = self._current_deposit(record)
        deposit.close_payment()
        account = record.text_field(3, 37)
        paid = record.date(38, 45, "payment date")
        serial = record.raw(46, 50)
        amount = record.number(51, 68, "amount")
        currency = record.raw(69, 71)
        if currency != deposit.currency:
            raise record.error(
                f"currency {currency!r} differs from {deposit.currency!r} of the TK05 on line {deposit.line}",
                "currency",
                69,
                71,
            )
        count = record.number(72, 79, "number of payments")
        payments = tuple(deposit.payments)
        # Payments minus deductions: the example file's first deposit is 1000.00 - 500.00 + 1400.00.
        total = sum(payment.signed_amount for payment in payments)
        if amount != total:
            raise record.error(
                f"deposit amount {_kronor(amount)} is not the sum of its payments minus deductions, {_kronor(total)}",
                "amount",
                51,
                68,
            )
        if count != len(payments):
            raise record.error(
                f"says {count} payments, the deposit has {len(payments)} TK20/TK21 records",
                "number of payments",
                72,
                79,
            )
        self._deposit = None
        self.deposits += 1
        return BgmaxDeposit(
            payee_bankgiro=deposit.payee_bankgiro,
            payee_plusgiro=deposit.payee_plusgiro,
            currency=deposit.currency,
            payments=payments,
            account=account,
            date=paid,
            deposit_serial=serial,
            amount=amount,
            count=count,
            deposit_type=record.text_field(80, 80),
            line=record.line,
        )

    def _end(self, record: _Record) -> None:
        if self._deposit is not None:
            raise BgmaxError(
                f"the deposit opened on line {self._deposit.line} has no TK15 deposit record",
                line=record.line,
                field="TK70 end record",
            )
        checks = (
            (3, 10, "number of TK20 payments", self.payments),
            (11, 18, "number of TK21 deductions", self.deductions),
            (19, 26, "number of TK22/TK23 extra references", self.extra_references),
            (27, 34, "number of TK15 deposits", self.deposits),
        )
        for start, end, name, actual in checks:
            stated = record.number(start, end, name)
            if stated != actual:
                raise record.error(f"says {stated}, the file has {actual}", name, start, end)
        self.end = (self.payments, self.deductions, self.extra_references, self.deposits)


def _kronor(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def iter_deposits(lines: Iterable[bytes]) -> Iterator[BgmaxDeposit]:
    """Yield each deposit as its TK15 is read, checking everything ``parse`` checks.

    ``lines`` are the file's lines as bytes (an open binary file will do), with or without
    their line ends. Memory is bounded by one deposit. Errors are raised where they are found,
    so deposits before a bad record have already been yielded, and the TK70 totals are only
    checked when the input ends: validate the whole file first (``validate``), then apply.
    """
    return _Reader().read(lines)


def validate(lines: Iterable[bytes]) -> tuple[BgmaxHeader, int, int]:
    """Check a whole file in one streaming pass.

    Returns the header, the number of deposits and the number of payments (TK20 payments and
    TK21 deductions, i.e. the ``BgmaxPayment`` records ``iter_deposits`` will give).
    """
    reader = _Reader()
    deposits = payments = 0
    for deposit in reader.read(lines):
        deposits += 1
        payments += len(deposit.payments)
    assert reader.header is not None
    return reader.header, deposits, payments


def parse(data: bytes) -> BgmaxFile:
    """Read a whole BGMax file held in memory."""
    reader = _Reader()
    deposits = tuple(reader.read(split_lines(data)))
    assert reader.header is not None and reader.end is not None
    payments, deductions, extra_references, deposit_count = reader.end
    return BgmaxFile(
        header=reader.header,
        deposits=deposits,
        payment_count=payments,
        deduction_count=deductions,
        extra_reference_count=extra_references,
        deposit_count=deposit_count,
    )


# --- writing ---------------------------------------------------------------------------------


class _Writer:
    """Builds 80-character records; every value is checked so that ``parse`` reads it back."""

    def __init__(self) -> None:
        self.records: list[str] = []

    @property
    def line(self) -> int:
        return len(self.records) + 1

    def error(self, message: str, name: str) -> BgmaxError:
        return BgmaxError(message, line=self.line, field=name)

    def text(self, value: object, width: int, name: str, *, right: bool = False) -> str:
        """A blank-padded text field; ``value`` as ``parse`` gives it back (no outer blanks)."""
        if not isinstance(value, str):
            raise self.error(f"must be text, got {value!r}", name)
        if len(value) > width:
            raise self.error(f"{value!r} is longer than {width} characters", name)
        if value != value.strip(" "):
            raise self.error(f"{value!r} has leading or trailing blanks, which the format does not keep", name)
        self._check_characters(value, name)
        return value.rjust(width) if right else value.ljust(width)

    def optional(self, value: str | None, width: int, name: str) -> str:
        if value is None:
            return " " * width
        if value == "":
            raise self.error("empty text is written as None", name)
        return self.text(value, width, name)

    def exact(self, value: object, width: int, name: str, *, digits: bool = False) -> str:
        """A field kept as written (serials, bankgiro numbers): exactly ``width`` characters."""
        if not isinstance(value, str) or len(value) != width:
            raise self.error(f"must be {width} characters, got {value!r}", name)
        if digits and not _digits(value):
            raise self.error(f"must be {width} digits, got {value!r}", name)
        self._check_characters(value, name)
        return value

    def number(self, value: object, width: int, name: str) -> str:
        if not isinstance(value, int) or isinstance(value, bool) or not (0 <= value < 10**width):
            raise self.error(f"must be a whole number from 0 to {10**width - 1}, got {value!r}", name)
        return f"{value:0{width}d}"

    def digit(self, value: object, allowed: range, name: str) -> str:
        if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
            raise self.error(f"must be a digit {allowed[0]}-{allowed[-1]}, got {value!r}", name)
        return str(value)

    def _check_characters(self, value: str, name: str) -> None:
        try:
            value.encode(ENCODING)
        except UnicodeEncodeError as exc:
            raise self.error(f"{value!r} has characters outside ISO-8859-1", name) from exc
        if _CONTROL.search(value):
            raise self.error(f"{value!r} has control characters", name)

    def add(self, *parts: str) -> None:
        record = "".join(parts)
        assert len(record) <= RECORD_LENGTH, record
        self.records.append(record.ljust(RECORD_LENGTH))

    def header(self, header: BgmaxHeader) -> None:
        if header.version != VERSION:
            raise self.error(f"version must be {VERSION!r}, got {header.version!r}", "TK01 version (23-24)")
        created = header.created
        if not isinstance(created, datetime) or created.tzinfo is not None or created.year < 1000:
            raise self.error(
                f"must be a naive datetime (Swedish local time) from year 1000, got {created!r}",
                "TK01 timestamp (25-44)",
            )
        stamp = (
            f"{created.year:04d}{created.month:02d}{created.day:02d}"
            f"{created.hour:02d}{created.minute:02d}{created.second:02d}{created.microsecond:06d}"
        )
        self.add("01", LAYOUT.ljust(20), VERSION, stamp, "T" if header.test else "P")

    def deposit(self, deposit: BgmaxDeposit) -> tuple[int, int, int]:
        currency = deposit.currency
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isascii() and currency.isalpha()):
            raise self.error(f"must be a currency code such as 'SEK', got {currency!r}", "TK05 currency (23-25)")
        if not currency.isupper():
            raise self.error(f"must be upper case, got {currency!r}", "TK05 currency (23-25)")
        plusgiro = (
            " " * 10
            if deposit.payee_plusgiro is None
            else self.exact(deposit.payee_plusgiro, 10, "TK05 payee plusgiro (13-22)", digits=True)
        )
        self.add(
            "05",
            self.exact(deposit.payee_bankgiro, 10, "TK05 payee bankgiro (3-12)", digits=True),
            plusgiro,
            currency,
        )
        payments = deductions = extra_references = 0
        total = 0
        for payment in deposit.payments:
            self.payment(payment)
            if payment.kind == DEDUCTION:
                deductions += 1
            else:
                payments += 1
            total += payment.signed_amount
            extra_references += len(payment.extra_references)
        name = "TK15 amount (51-68)"
        if deposit.amount != total:
            raise self.error(f"{deposit.amount!r} is not the payments minus the deductions, {total}", name)
        amount = self.number(deposit.amount, 18, name)
        if deposit.count != len(deposit.payments):
            raise self.error(
                f"{deposit.count!r} is not the number of payments, {len(deposit.payments)}",
                "TK15 number of payments (72-79)",
            )
        if not isinstance(deposit.date, date) or isinstance(deposit.date, datetime) or deposit.date.year < 1000:
            raise self.error(f"must be a date from year 1000, got {deposit.date!r}", "TK15 payment date (38-45)")
        deposit_type = deposit.deposit_type
        self.add(
            "15",
            self.text(deposit.account, 35, "TK15 account (3-37)", right=True),
            f"{deposit.date.year:04d}{deposit.date.month:02d}{deposit.date.day:02d}",
            self.exact(deposit.deposit_serial, 5, "TK15 deposit serial (46-50)"),
            amount,
            currency,
            self.number(deposit.count, 8, "TK15 number of payments (72-79)"),
            " " if deposit_type == "" else self.text(deposit_type, 1, "TK15 deposit type (80)"),
        )
        return payments, deductions, extra_references

    def payment(self, payment: BgmaxPayment) -> None:
        if payment.kind not in (PAYMENT, DEDUCTION):
            raise self.error(f"kind must be {PAYMENT!r} or {DEDUCTION!r}, got {payment.kind!r}", "payment kind")
        tk = "21" if payment.kind == DEDUCTION else "20"
        bankgiro = self.exact(payment.payer_bankgiro, 10, f"TK{tk} payer bankgiro (3-12)", digits=True)
        channel = self.digit(payment.channel, range(1, 5), f"TK{tk} channel (57)")
        serial = self.exact(payment.bgc_serial, 12, f"TK{tk} BGC serial (58-69)")
        # Bankgirot leaves the image flag blank where it leaves the serial blank (autogiro).
        image = "1" if payment.has_image else (" " if serial == " " * 12 else "0")
        if payment.kind == DEDUCTION:
            deduction_code = (
                " "
                if payment.deduction_code is None
                else self.digit(payment.deduction_code, range(10), "TK21 deduction code (71)")
            )
        elif payment.deduction_code is not None:
            raise self.error("only a deduction (TK21) has a deduction code", "TK20 deduction code (71)")
        else:
            deduction_code = ""
        self.add(
            tk,
            bankgiro,
            self._reference(payment.reference, payment.reference_code, payment.channel, tk),
            self.number(payment.amount, 18, f"TK{tk} amount (38-55)"),
            self.digit(payment.reference_code, range(6), f"TK{tk} reference code (56)"),
            channel,
            serial,
            image,
            deduction_code,
        )
        for extra in payment.extra_references:
            negative = isinstance(extra.amount, int) and extra.amount < 0
            etk = "23" if negative else "22"
            self.add(
                etk,
                bankgiro,
                self._reference(extra.reference, extra.reference_code, payment.channel, etk),
                self.number(-extra.amount if negative else extra.amount, 18, f"TK{etk} amount (38-55)"),
                self.digit(extra.reference_code, range(6), f"TK{etk} reference code (56)"),
                channel,
                serial,
                image,
            )
        for text in payment.free_text:
            self.add("25", self.text(text, 50, "TK25 free text (3-52)"))
        if payment.payer_name is not None:
            self.add("26", self._name(payment.payer_name))
        if payment.payer_address is not None or payment.payer_postcode is not None:
            self.add(
                "27",
                self.optional(payment.payer_address, 35, "TK27 address (3-37)"),
                self.optional(payment.payer_postcode, 9, "TK27 postcode (38-46)"),
            )
        if (
            payment.payer_city is not None
            or payment.payer_country is not None
            or payment.payer_country_code is not None
        ):
            self.add(
                "28",
                self.optional(payment.payer_city, 35, "TK28 city (3-37)"),
                self.optional(payment.payer_country, 35, "TK28 country (38-72)"),
                self.optional(payment.payer_country_code, 2, "TK28 country code (73-74)"),
            )
        if payment.payer_org_number is not None:
            self.add("29", self.optional(payment.payer_org_number, 12, "TK29 organisation number (3-14)"))

    def _reference(self, reference: str, code: int, channel: int, tk: str) -> str:
        # As in the example files: OCR (code 2) right-aligned, except autogiro (channel 4)
        # payer numbers and all other references, which are left-aligned.
        return self.text(reference, 25, f"TK{tk} reference (13-37)", right=code == 2 and channel != 4)

    def _name(self, name: str) -> str:
        """TK26 positions 3-72: the name, split over the extra-name field at a blank if long."""
        field_name = "TK26 name (3-37, 38-72)"
        if name == "":
            raise self.error("empty text is written as None", field_name)
        if not isinstance(name, str) or name != name.strip(" "):
            raise self.error(f"{name!r} must be text without leading or trailing blanks", field_name)
        if len(name) <= 35:
            return self.text(name, 35, field_name)
        for cut in range(min(35, len(name) - 1), 0, -1):
            first, rest = name[:cut], name[cut + 1 :]
            if name[cut] == " " and first == first.rstrip(" ") and rest == rest.lstrip(" ") and len(rest) <= 35:
                return self.text(first, 35, field_name) + self.text(rest, 35, field_name)
        raise self.error(f"{name!r} does not fit in two fields of 35 characters split at a blank", field_name)

    def end(self, file: BgmaxFile, actual: tuple[int, int, int, int]) -> None:
        stated = (file.payment_count, file.deduction_count, file.extra_reference_count, file.deposit_count)
        names = (
            "TK70 number of TK20 payments (3-10)",
            "TK70 number of TK21 deductions (11-18)",
            "TK70 number of TK22/TK23 extra references (19-26)",
            "TK70 number of TK15 deposits (27-34)",
        )
        for value, count, name in zip(stated, actual, names, strict=True):
            if value != count:
                raise self.error(f"{value!r} is not the number in the file, {count}", name)
        self.add("70", *(self.number(value, 8, name) for value, name in zip(stated, names, strict=True)))


def write(file: BgmaxFile) -> bytes:
    """The file as Bankgirot writes it: ISO-8859-1, CRLF, every record padded to 80 characters.

    Raises ``BgmaxError`` (naming the record that would be written and its field) for anything
    ``parse`` would not read back as equal: so ``parse(write(f)) == f`` whenever this returns.
    """
    writer = _Writer()
    writer.header(file.header)
    totals = [0, 0, 0, 0]
    for deposit in file.deposits:
        payments, deductions, extra_references = writer.deposit(deposit)
        totals[0] += payments
        totals[1] += deductions
        totals[2] += extra_references
        totals[3] += 1
    writer.end(file, (totals[0], totals[1], totals[2], totals[3]))
    return "".join(f"{record}\r\n" for record in writer.records).encode(ENCODING)
