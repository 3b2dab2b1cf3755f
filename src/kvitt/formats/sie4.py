"""SIE type 4: the Swedish file format for moving bookkeeping between programs.

Source: SIE-gruppen, "SIE filformat, utgåva 4B" (2008-09-30), sie.se. What this module
relies on:

- A file is lines of records; each starts with a label (``#FLAGGA``, ``#VER``, ...) followed
  by fields separated by spaces or tabs. A field holding spaces is put in quotes; a quote
  inside a field is preceded by a backslash (``\\"``). An empty field before a later one is
  written ``""``. A voucher's transactions stand between a ``{`` line and a ``}`` line after
  its ``#VER``; ``{}`` in a ``#TRANS`` is its (here always empty) object list.
- ``#FORMAT PC8``: the bytes are IBM PC 8-bit extended ASCII, that is code page 437
  (å = 0x86, ä = 0x84, ö = 0x94, Å = 0x8F, Ä = 0x8E, Ö = 0x99, é = 0x82).
- Dates are ``YYYYMMDD``; amounts are kronor with a decimal point and at most two decimals,
  negative with a leading minus, no thousands separator; the transactions of a voucher sum
  to zero.
- ``#KPTYP``: the spec lists BAS95, BAS96, EUBAS97 and NE2007; today's BAS charts (BAS 2000
  and later) descend from EUBAS97, so that is the default written here.
- ``#RTRANS`` (a transaction added afterwards) is followed by the same ``#TRANS`` for older
  readers, and ``#BTRANS`` marks a removed one; the reader keeps only the ``#TRANS`` lines.
  Records it does not know (``#IB``, ``#UB``, ``#ADRESS``, ``#KSUMMA``, ...) it skips, as
  the spec tells readers to.

Choices of this module, where the spec leaves room:

- Lines end with CR LF (the reader also takes LF alone).
- Texts are always quoted. Control characters in them become spaces and a character code
  page 437 has no glyph for becomes ``?`` (after NFC normalisation, so a decomposed é is
  still é): an export never fails on a payment reference someone typed.
- A backslash is doubled where it would otherwise be misread (before a quote, before another
  backslash, or at the end of a text); any other backslash is written as is, which is what a
  reader that knows only ``\\"`` expects. The reader takes ``\\"`` as ``"``, ``\\\\`` as
  ``\\`` and keeps any other backslash.

Pure: no I/O and no imports from the rest of Kvitt.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from datetime import date as Day  # Voucher has a field named date

ENCODING = "cp437"  # "#FORMAT PC8"
DEFAULT_CHART_TYPE = "EUBAS97"
_EOL = "\r\n"
_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]{1,2}))?")  # ASCII digits only: \d takes any script's
_ORG_NUMBER = re.compile(r"([0-9]{6})-?([0-9]{4})")
_BARE = re.compile(r'[^\s"{}\\]+')

Token = str | tuple[str, ...]  # a field, or the fields of an object list {...}


class SieError(ValueError):
    """A file (or data to write) that is not valid SIE 4; ``line`` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


@dataclass(frozen=True)
class Company:
    """The identification records: ``#PROGRAM``, ``#GEN``, ``#FNAMN``, ``#ORGNR``, ``#RAR 0``, ..."""

    program: str
    program_version: str
    generated: Day
    name: str
    org_number: str | None = None  # NNNNNN-NNNN
    fiscal_year_start: Day | None = None
    fiscal_year_end: Day | None = None
    chart_type: str | None = DEFAULT_CHART_TYPE
    currency: str = "SEK"


@dataclass(frozen=True)
class Transaction:
    """``#TRANS account {} amount "" "text"``; the amount in öre, debit positive."""

    account: str
    amount: int
    text: str = ""


@dataclass(frozen=True)
class Voucher:
    """``#VER series number date "text"`` and its transactions, which must sum to zero."""

    series: str
    number: int | None  # None: "" in the file (the receiving program numbers it)
    date: date
    text: str
    transactions: tuple[Transaction, ...]


@dataclass(frozen=True)
class SieFile:
    company: Company
    accounts: dict[str, str] = field(default_factory=dict)  # number → name (#KONTO)
    vouchers: tuple[Voucher, ...] = ()


# --- writing ---------------------------------------------------------------------------------


def write(sie: SieFile) -> bytes:
    """The file as CP437 bytes with CR LF line ends.

    Raises ``SieError`` (a ``ValueError``) for a voucher that does not balance or has no
    transactions, an account that is not a number or is used without a ``#KONTO`` name, an
    organisation number that is not ten digits, or a half-given fiscal year.
    """
    return _EOL.join([*_header(sie.company, sie.accounts), *_voucher_lines(sie)]).encode(ENCODING, "replace") + b"\r\n"


def format_amount(ore: int) -> str:
    """Öre as SIE kronor: ``39500`` → ``395.00``, ``-7900`` → ``-79.00``."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor}.{rest:02d}"


def format_org_number(org_number: str) -> str:
    match = _ORG_NUMBER.fullmatch(org_number.strip())
    if match is None:
        raise SieError(f"organisation number {org_number!r} is not NNNNNN-NNNN")
    return f"{match[1]}-{match[2]}"


def _header(company: Company, accounts: Mapping[str, str]) -> list[str]:
    lines = [
        "#FLAGGA 0",
        "#FORMAT PC8",
        "#SIETYP 4",
        f"#PROGRAM {_text(company.program)} {_field(company.program_version)}",
        f"#GEN {_date(company.generated)}",
        f"#FNAMN {_text(company.name)}",
    ]
    if company.org_number:
        lines.append(f"#ORGNR {format_org_number(company.org_number)}")
    start, end = company.fiscal_year_start, company.fiscal_year_end
    if (start is None) != (end is None):
        raise SieError("a fiscal year needs both its first and its last day")
    if start is not None and end is not None:
        if end < start:
            raise SieError(f"the fiscal year ends ({end}) before it starts ({start})")
        lines.append(f"#RAR 0 {_date(start)} {_date(end)}")
    if company.chart_type:
        lines.append(f"#KPTYP {_field(company.chart_type)}")
    lines.append(f"#VALUTA {_field(company.currency)}")
    for number in sorted(accounts, key=_account_order):
        lines.append(f"#KONTO {_account(number)} {_text(accounts[number])}")
    return lines


def _voucher_lines(sie: SieFile) -> Iterable[str]:
    for voucher in sie.vouchers:
        label = f"voucher {voucher.series}{'' if voucher.number is None else voucher.number}"
        if not voucher.transactions:
            raise SieError(f"{label} has no transactions")
        total = sum(t.amount for t in voucher.transactions)
        if total != 0:
            raise SieError(f"{label} does not balance: its transactions sum to {format_amount(total)}")
        number = '""' if voucher.number is None else str(voucher.number)
        yield f"#VER {_field(voucher.series)} {number} {_date(voucher.date)} {_text(voucher.text)}"
        yield "{"
        for t in voucher.transactions:
            if t.account not in sie.accounts:
                raise SieError(f"{label} uses account {t.account!r}, which has no #KONTO name")
            text = f' "" {_text(t.text)}' if t.text else ""
            yield f"#TRANS {_account(t.account)} {{}} {format_amount(t.amount)}{text}"
        yield "}"


def _account_order(number: str) -> tuple[int, str]:
    return (int(number), number) if _is_digits(number) else (-1, number)


def _account(number: str) -> str:
    if not _is_digits(number):
        raise SieError(f"account {number!r} is not a number")
    return number


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _date(day: Day) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)


def _text(text: str) -> str:
    """Always quoted, with quotes (and backslashes that would be misread) escaped."""
    text = _clean(text)
    out = []
    for i, ch in enumerate(text):
        if ch == '"':
            out.append('\\"')
        elif ch == "\\" and (i + 1 == len(text) or text[i + 1] in '"\\'):
            out.append("\\\\")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _field(text: str) -> str:
    """Bare where it is one plain token, else quoted."""
    text = _clean(text)
    return text if _BARE.fullmatch(text) and text.isascii() else _text(text)


# --- reading ---------------------------------------------------------------------------------


def read(data: bytes) -> SieFile:
    """Parse SIE 4 bytes (code page 437) back into a ``SieFile``.

    Raises ``SieError`` naming the line for what it cannot read: a field that is missing or
    malformed, an amount with more than two decimals, a voucher that does not balance or is
    not closed, a file of another SIE type or format.
    """
    return _Reader().read(data.decode(ENCODING))


@dataclass
class _OpenVoucher:
    line: int
    series: str
    number: int | None
    date: Day
    text: str
    transactions: list[Transaction] = field(default_factory=list)
    opened: bool = False


class _Reader:
    def __init__(self) -> None:
        self.records: dict[str, list[Token]] = {}
        self.fiscal_year: tuple[Day, Day] | None = None
        self.accounts: dict[str, str] = {}
        self.vouchers: list[Voucher] = []
        self.open: _OpenVoucher | None = None

    def read(self, text: str) -> SieFile:
        # Split on LF only: str.splitlines() would also split on characters CP437 decodes to.
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.removesuffix("\r")
            if line.strip(" \t"):
                self.record(number, split(line, number))
        if self.open is not None:
            raise SieError("the voucher is not closed with '}'", self.open.line)
        return SieFile(self.company(), self.accounts, tuple(self.vouchers))

    def record(self, line: int, tokens: list[Token]) -> None:
        label = tokens[0]
        if not isinstance(label, str):
            raise SieError("a record starts with a label, not an object list", line)
        label = label.upper()
        if self.open is not None:
            self.in_voucher(line, label, tokens)
        elif label in ("{", "}"):
            raise SieError(f"'{label}' outside a voucher", line)
        elif label == "#VER":
            self.open = _OpenVoucher(
                line,
                series=_str(tokens, 1, line, "series"),
                number=_voucher_number(_str(tokens, 2, line, "voucher number"), line),
                date=_parse_date(_str(tokens, 3, line, "voucher date"), line),
                text=_optional_str(tokens, 4, line),
            )
        elif label == "#KONTO":
            self.accounts[_str(tokens, 1, line, "account")] = _optional_str(tokens, 2, line)
        elif label == "#RAR":
            if _str(tokens, 1, line, "year number") == "0":
                start = _parse_date(_str(tokens, 2, line, "first day"), line)
                self.fiscal_year = (start, _parse_date(_str(tokens, 3, line, "last day"), line))
        elif label in ("#TRANS", "#RTRANS", "#BTRANS"):
            raise SieError(f"{label} outside a voucher", line)
        elif label.startswith("#"):
            self.records.setdefault(label, tokens)  # the first of each; unknown labels are skipped
        else:
            raise SieError(f"not a SIE record: {label!r}", line)

    def in_voucher(self, line: int, label: str, tokens: list[Token]) -> None:
        voucher = self.open
        assert voucher is not None
        if not voucher.opened:
            if label != "{":
                raise SieError("a #VER must be followed by a line with '{'", line)
            voucher.opened = True
        elif label == "#TRANS":
            account = _str(tokens, 1, line, "account")
            if len(tokens) < 3 or not isinstance(tokens[2], tuple):
                raise SieError("#TRANS needs an object list ({}) after the account", line)
            amount = parse_amount(_str(tokens, 3, line, "amount"), line)
            voucher.transactions.append(Transaction(account, amount, _optional_str(tokens, 5, line)))
        elif label in ("#RTRANS", "#BTRANS"):
            pass  # an #RTRANS is repeated as #TRANS; a #BTRANS is a removed transaction
        elif label == "}":
            total = sum(t.amount for t in voucher.transactions)
            if total != 0:
                raise SieError(
                    f"the voucher does not balance: its transactions sum to {format_amount(total)}", voucher.line
                )
            self.vouchers.append(
                Voucher(voucher.series, voucher.number, voucher.date, voucher.text, tuple(voucher.transactions))
            )
            self.open = None
        else:
            raise SieError(f"{label} inside a voucher", line)

    def company(self) -> Company:
        sie_type = self.records.get("#SIETYP")
        if sie_type is None or _str(sie_type, 1, None, "type") != "4":
            raise SieError("not a SIE type 4 file (#SIETYP 4 is missing)")
        file_format = self.records.get("#FORMAT")
        if file_format is not None and _str(file_format, 1, None, "format").upper() != "PC8":
            raise SieError("only #FORMAT PC8 (code page 437) is SIE")
        program = self._required("#PROGRAM")
        org = self.records.get("#ORGNR")
        chart = self.records.get("#KPTYP")
        currency = self.records.get("#VALUTA")
        return Company(
            program=_str(program, 1, None, "program"),
            program_version=_optional_str(program, 2, None),
            generated=_parse_date(_str(self._required("#GEN"), 1, None, "date"), None),
            name=_str(self._required("#FNAMN"), 1, None, "company name"),
            org_number=_str(org, 1, None, "organisation number") if org else None,
            fiscal_year_start=self.fiscal_year[0] if self.fiscal_year else None,
            fiscal_year_end=self.fiscal_year[1] if self.fiscal_year else None,
            chart_type=_str(chart, 1, None, "chart type") if chart else None,
            currency=_str(currency, 1, None, "currency") if currency else "SEK",
        )

    def _required(self, label: str) -> list[Token]:
        tokens = self.records.get(label)
        if tokens is None:
            raise SieError(f"the file has no {label}")
        return tokens


def split(line: str, number: int | None = None) -> list[Token]:
    """The fields of one line: bare, quoted (unescaped) or an object list ``{...}`` (a tuple)."""
    tokens: list[Token] = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch in " \t":
            i += 1
        elif ch == "{" and tokens:  # a "{" alone opens a voucher's transactions
            objects, i = _object_list(line, i + 1, number)
            tokens.append(objects)
        else:
            value, i = _one_field(line, i, number, stop=" \t")
            tokens.append(value)
    return tokens


def _one_field(line: str, i: int, number: int | None, *, stop: str) -> tuple[str, int]:
    if line[i] == '"':
        return _quoted(line, i + 1, number)
    j = i
    while j < len(line) and line[j] not in stop:
        j += 1
    return line[i:j], j


def _quoted(line: str, i: int, number: int | None) -> tuple[str, int]:
    out = []
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] in '"\\':
            out.append(line[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise SieError("a quoted field is not closed", number)


def _object_list(line: str, i: int, number: int | None) -> tuple[tuple[str, ...], int]:
    values: list[str] = []
    while i < len(line):
        ch = line[i]
        if ch in " \t":
            i += 1
        elif ch == "}":
            return tuple(values), i + 1
        else:
            value, i = _one_field(line, i, number, stop=" \t}")
            values.append(value)
    raise SieError("an object list is not closed with '}'", number)


def parse_amount(text: str, line: int | None = None) -> int:
    """SIE kronor to öre: ``395.00`` → ``39500``, ``-79`` → ``-7900``, ``0.5`` → ``50``."""
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise SieError(f"amount {text!r} is not kronor with at most two decimals", line)
    sign, kronor, decimals = match.groups()
    ore = int(kronor) * 100 + int((decimals or "0").ljust(2, "0"))
    return -ore if sign else ore


def _parse_date(text: str, line: int | None) -> Day:
    if len(text) != 8 or not _is_digits(text):
        raise SieError(f"date {text!r} is not YYYYMMDD", line)
    try:
        return Day(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise SieError(f"date {text!r} does not exist", line) from None


def _voucher_number(text: str, line: int) -> int | None:
    if text == "":
        return None
    if not _is_digits(text):
        raise SieError(f"voucher number {text!r} is not a number", line)
    return int(text)


def _str(tokens: list[Token], index: int, line: int | None, what: str) -> str:
    if index >= len(tokens):
        raise SieError(f"{_label(tokens)} has no {what}", line)
    value = tokens[index]
    if not isinstance(value, str):
        raise SieError(f"{_label(tokens)}: the {what} is an object list", line)
    return value


def _optional_str(tokens: list[Token], index: int, line: int | None) -> str:
    return _str(tokens, index, line, "field") if index < len(tokens) else ""


def _label(tokens: list[Token]) -> str:
    return str(tokens[0]) if tokens else "record"
