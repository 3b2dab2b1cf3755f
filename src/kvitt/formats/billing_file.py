"""Billing files: the issuer's invoice data, one row per invoice line (CSV) or one invoice per
line (JSON Lines), and mappings (TOML) that read another layout as the canonical one.

The canonical CSV is UTF-8 (a byte-order mark is allowed) with a header naming exactly the
columns in ``FIELDS``; rows that share ``invoice_ref`` form one invoice and must follow each
other. ``unit_price`` is kronor with a decimal point (``199.00``, at most two decimals),
``quantity`` a decimal (at most three decimals, greater than 0), ``vat_rate`` an integer among
the Swedish rates, dates ISO ``YYYY-MM-DD``. ``info`` holds ``Title: text`` blocks separated by
`` | `` (shown on the invoice; e.g. ``Förbrukning: 412 kWh | Bindningstid till: 2027-03-31``).

The VAT rates are the ones Mervärdesskattelagen (2023:200) 9 kap. allows: 25 % (the general
rate), 12 % and 6 % (the reduced rates), and 0 % for exempt or zero-rated supplies
(SWEDISH-RULES.md). Anything else, 24 % for instance, is refused.

Every reader is a single streaming pass over an iterable of byte lines: memory holds one
invoice at a time. ``read`` yields invoices and the errors it found, going on after a bad row
so that a whole file can be checked at once; ``iter_invoices`` stops at the first error. Every
problem is a ``BillingFileError`` naming the line and the field (the column as the file names
it); nothing else escapes. No I/O here: the caller opens the file.
"""

from __future__ import annotations

import codecs
import csv
import json
import tomllib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from hashlib import blake2b
from typing import Any, TypeVar

__all__ = [
    "CANONICAL",
    "DELIVERY_METHODS",
    "FIELDS",
    "JSONL",
    "VAT_RATES",
    "BillingFileError",
    "Customer",
    "Info",
    "Invoice",
    "Line",
    "Mapping",
    "iter_invoices",
    "parse_mapping",
    "read",
    "write_csv",
    "write_jsonl",
]

FIELDS = (
    "customer_no",
    "customer_name",
    "email",
    "phone",
    "id_number",
    "address",
    "postal_code",
    "city",
    "delivery_method",
    "invoice_ref",
    "invoice_date",
    "due_date",
    "item_no",
    "description",
    "quantity",
    "unit_price",
    "vat_rate",
    "info",
)
CUSTOMER_FIELDS = FIELDS[:9]
# A row without these cannot become an invoice line.
REQUIRED = ("customer_no", "invoice_ref", "description", "quantity", "unit_price", "vat_rate")
VAT_RATES = frozenset({25, 12, 6, 0})
DELIVERY_METHODS = frozenset({"email", "sms", "letter", "einvoice"})
MAX_QUANTITY = Decimal(1_000_000)
MAX_PRICE = Decimal(1_000_000_000)  # kronor a unit; keeps sums far inside BIGINT öre
MAX_FIELD = 4000  # characters in one field
MAX_LINES_PER_INVOICE = 1000
_LENGTHS = {
    "customer_no": 40,
    "customer_name": 200,
    "email": 254,
    "phone": 30,
    "id_number": 20,
    "address": 200,
    "postal_code": 10,
    "city": 100,
    "invoice_ref": 100,
    "item_no": 40,
    "description": 500,
}
T = TypeVar("T")
ISO_DATE = "%Y-%m-%d"
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")


class BillingFileError(ValueError):
    """A billing file (or mapping) that cannot be read; names the line and the field."""

    def __init__(self, message: str, *, line: int, field: str) -> None:
        super().__init__(f"line {line}, {field}: {message}")
        self.message = message
        self.line = line
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:  # picklable despite keyword-only arguments
        return (_rebuild_error, (self.message, self.line, self.field))


def _rebuild_error(message: str, line: int, field: str) -> BillingFileError:
    return BillingFileError(message, line=line, field=field)


@dataclass(frozen=True, slots=True)
class Customer:
    customer_no: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    id_number: str | None = None
    address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    delivery_method: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    line: int  # where in the file the line was read
    description: str
    quantity: Decimal
    unit_price: Decimal  # kronor, at most two decimals
    vat_rate: int
    item_no: str | None = None

    @property
    def unit_price_ore(self) -> int:
        return int(self.unit_price * 100)

    @property
    def net(self) -> Decimal:
        """Quantity × unit price in kronor, rounded half up to öre (as the invoice does)."""
        return (self.quantity * self.unit_price).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Info:
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Invoice:
    line: int  # the line of its first row
    invoice_ref: str
    customer: Customer
    invoice_date: date | None
    due_date: date | None
    lines: tuple[Line, ...]
    info: tuple[Info, ...] = ()

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    def net_by_rate(self) -> dict[int, Decimal]:
        sums: dict[int, Decimal] = {}
        for line in self.lines:
            sums[line.vat_rate] = sums.get(line.vat_rate, Decimal(0)) + line.net
        return sums


# --- mappings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """How to read a layout as the canonical fields.

    ``columns`` maps a canonical field to the source column (its header name, or its 1-based
    position when the file has no header); ``constants`` gives fields the source lacks;
    ``codes`` translates source values per field; ``info`` makes info blocks of source columns
    (title → column).
    """

    name: str = "canonical"
    kind: str = "csv"  # csv | jsonl
    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    decimal: str = "."
    thousands: str = ""
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    header: bool = True
    skip_rows: int = 0
    columns: dict[str, str] = field(default_factory=lambda: {f: f for f in FIELDS})
    constants: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    canonical: bool = True


CANONICAL = Mapping()
JSONL = Mapping(name="jsonl", kind="jsonl")
_FORMAT_KEYS = {
    "type",
    "encoding",
    "delimiter",
    "quotechar",
    "decimal",
    "thousands",
    "date_formats",
    "header",
    "skip_rows",
}


def parse_mapping(text: str, *, name: str = "mapping") -> Mapping:
    """A mapping from its TOML text; a bad mapping is a ``BillingFileError`` (line 0 = the mapping)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BillingFileError(f"not valid TOML: {exc}", line=0, field=f"mapping {name}") from None
    return _mapping_of(data, name)


def _mapping_error(message: str, name: str, where: str) -> BillingFileError:
    return BillingFileError(message, line=0, field=f"mapping {name} [{where}]")


def _mapping_of(data: dict[str, Any], name: str) -> Mapping:
    unknown = set(data) - {"name", "format", "columns", "constants", "codes", "info"}
    if unknown:
        raise _mapping_error(f"unknown table(s) {', '.join(sorted(unknown))}", name, "top")
    name = _text_setting(data.get("name", name), name, "name")
    fmt = _table(data.get("format", {}), name, "format")
    if set(fmt) - _FORMAT_KEYS:
        raise _mapping_error(f"unknown key(s) {', '.join(sorted(set(fmt) - _FORMAT_KEYS))}", name, "format")
    kind = fmt.get("type", "csv")
    if kind not in ("csv", "jsonl"):
        raise _mapping_error("type must be csv or jsonl", name, "format")
    encoding = _text_setting(fmt.get("encoding", "utf-8"), name, "format")
    try:
        "".encode(encoding)
    except LookupError:
        raise _mapping_error(f"unknown encoding {encoding!r}", name, "format") from None
    delimiter = _char(fmt.get("delimiter", ","), name, "delimiter")
    quotechar = _char(fmt.get("quotechar", '"'), name, "quotechar")
    decimal = fmt.get("decimal", ".")
    if decimal not in (".", ","):
        raise _mapping_error('decimal must be "." or ","', name, "format")
    thousands = fmt.get("thousands", "")
    if thousands not in ("", " ", ".", ",", "\u00a0", "'") or thousands == decimal:
        raise _mapping_error("thousands must be empty, a space, a point, a comma or an apostrophe", name, "format")
    formats = fmt.get("date_formats", ["%Y-%m-%d"])
    if isinstance(formats, str):
        formats = [formats]
    if not formats or not all(isinstance(f, str) and "%" in f for f in formats):
        raise _mapping_error('date_formats must be strftime patterns, e.g. "%d/%m/%Y"', name, "format")
    header = fmt.get("header", True)
    skip_rows = fmt.get("skip_rows", 0)
    if not isinstance(header, bool) or not isinstance(skip_rows, int) or skip_rows < 0:
        raise _mapping_error("header is true or false, skip_rows a number ≥ 0", name, "format")
    columns = {k: _column(v, name, header) for k, v in _table(data.get("columns", {}), name, "columns").items()}
    constants = {
        k: _text_setting(v, name, "constants") for k, v in _table(data.get("constants", {}), name, "constants").items()
    }
    for where, keys in (("columns", columns), ("constants", constants)):
        if set(keys) - set(FIELDS):
            raise _mapping_error(f"not canonical field(s): {', '.join(sorted(set(keys) - set(FIELDS)))}", name, where)
    codes: dict[str, dict[str, str]] = {}
    for fname, table in _table(data.get("codes", {}), name, "codes").items():
        if fname not in FIELDS:
            raise _mapping_error(f"not a canonical field: {fname}", name, "codes")
        codes[fname] = {
            str(k): _text_setting(v, name, f"codes.{fname}") for k, v in _table(table, name, "codes").items()
        }
    info = {k: _column(v, name, header) for k, v in _table(data.get("info", {}), name, "info").items()}
    if kind == "csv":
        missing = [f for f in REQUIRED if f not in columns and f not in constants]
        if missing:
            raise _mapping_error(f"no column or constant for {', '.join(missing)}", name, "columns")
    return Mapping(
        name=name,
        kind=kind,
        encoding=encoding,
        delimiter=delimiter,
        quotechar=quotechar,
        decimal=decimal,
        thousands=thousands,
        date_formats=tuple(formats),
        header=header,
        skip_rows=skip_rows,
        columns=columns,
        constants=constants,
        codes=codes,
        info=info,
        canonical=False,
    )


def _table(value: Any, name: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _mapping_error("must be a table", name, where)
    return value


def _text_setting(value: Any, name: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _mapping_error(f"{value!r} must be text", name, where)
    return str(value)


def _char(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
        raise _mapping_error(f"{where} must be one character", name, "format")
    return value


def _column(value: Any, name: str, header: bool) -> str:
    if header and isinstance(value, str) and value:
        return value
    if not header and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)
    wanted = "a column name" if header else "a column number (1 = first)"
    raise _mapping_error(f"{value!r} must be {wanted}", name, "columns")


# --- reading -----------------------------------------------------------------------------------


def iter_invoices(lines: Iterable[bytes], mapping: Mapping = CANONICAL) -> Iterator[Invoice]:
    """The invoices of a file, raising the first ``BillingFileError`` met."""
    for result in read(lines, mapping):
        if isinstance(result, BillingFileError):
            raise result
        yield result


def read(lines: Iterable[bytes], mapping: Mapping = CANONICAL) -> Iterator[Invoice | BillingFileError]:
    """Invoices and errors in file order; after an error in a row the rest is still read, after
    an error in the layout itself (a missing column, an unreadable header) reading stops."""
    seen = _Fingerprints()
    if mapping.kind == "jsonl":
        results = _read_jsonl(lines, mapping)
    else:
        results = _Grouper(mapping).group(_read_rows(lines, mapping))
    for result in results:
        if isinstance(result, Invoice) and seen.add(result.invoice_ref):
            yield BillingFileError(
                f"invoice_ref {result.invoice_ref} was used by an earlier invoice in this file "
                "(each invoice has its own ref, and the rows of an invoice follow each other)",
                line=result.line,
                field="invoice_ref",
            )
            continue
        yield result


class _Fingerprints:
    """The refs met so far, as 64-bit BLAKE2b fingerprints in an open-addressing table.

    Memory is 16-32 bytes an invoice (48 while the table doubles; a Python set of ints takes
    ~70): a 2 GB file of ~7 million invoices needs 110-340 MB here. Everything else the reader
    holds is one invoice. Two different refs share a fingerprint with a chance of about
    n²/2⁶⁵ (3·10⁻⁶ for 10⁷ invoices): such a file would be refused as if it repeated a ref,
    never imported wrongly.
    """

    def __init__(self) -> None:
        self.size = 1 << 12
        self.table = array("Q", bytes(8 * self.size))
        self.count = 0

    def add(self, key: str) -> bool:
        """Remember ``key``; True if it (or its fingerprint) was there already."""
        value = int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "little") or 1
        if self._insert(value):
            return True
        self.count += 1
        if self.count * 2 > self.size:
            self._grow()
        return False

    def _insert(self, value: int) -> bool:
        mask = self.size - 1
        slot = value & mask
        table = self.table
        while True:
            held = table[slot]
            if held == 0:
                table[slot] = value
                return False
            if held == value:
                return True
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old = self.table
        self.size *= 2
        self.table = array("Q", bytes(8 * self.size))
        for value in old:
            if value:
                self._insert(value)


@dataclass(slots=True)
class _Row:
    line: int
    values: dict[str, str]  # canonical field -> raw text (codes applied)
    info: tuple[Info, ...]
    columns: dict[str, str]  # canonical field -> the column as the file names it


def _decoded(lines: Iterable[bytes], encoding: str, errors: list[BillingFileError]) -> Iterator[str]:
    for number, raw in enumerate(lines, start=1):
        if not isinstance(raw, (bytes, bytearray)):
            errors.append(BillingFileError("the input is not bytes", line=number, field="file"))
            return
        if number == 1 and raw.startswith(b"\xef\xbb\xbf") and codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
            raw = raw[3:]
        try:
            text = bytes(raw).decode(encoding)
        except UnicodeDecodeError as exc:
            errors.append(BillingFileError(f"not {encoding} text: {exc.reason}", line=number, field="file"))
            return
        if "\x00" in text:
            errors.append(BillingFileError("the line holds a NUL character", line=number, field="file"))
            return
        yield text


def _read_rows(lines: Iterable[bytes], mapping: Mapping) -> Iterator[_Row | BillingFileError]:
    fatal: list[BillingFileError] = []
    text = _decoded(lines, mapping.encoding, fatal)
    reader = csv.reader(text, delimiter=mapping.delimiter, quotechar=mapping.quotechar, strict=True)
    try:
        for _ in range(mapping.skip_rows):
            next(reader, None)
        position = _header(reader, mapping) if mapping.header else _positions(mapping)
    except BillingFileError as exc:
        yield exc
        return
    except csv.Error as exc:
        yield fatal[0] if fatal else BillingFileError(str(exc), line=reader.line_num, field="header")
        return
    if fatal:
        yield fatal[0]
        return
    if position is None:
        return
    named = {f: _source_name(mapping, f) for f in FIELDS}
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield fatal[0] if fatal else BillingFileError(f"not valid CSV: {exc}", line=reader.line_num, field="row")
            return
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (a trailing newline, a spreadsheet's empty row) carry nothing
        try:
            yield _row(cells, line, position, mapping, named)
        except BillingFileError as exc:
            yield exc
    if fatal:
        yield fatal[0]


def _source_name(mapping: Mapping, name: str) -> str:
    column = mapping.columns.get(name)
    if column is None:
        return name
    if mapping.canonical or column == name:
        return name
    return f"{name} (column {column!r})" if mapping.header else f"{name} (column {column})"


def _header(reader: Any, mapping: Mapping) -> dict[str, int] | None:
    header = next(reader, None)
    if header is None:
        return None  # an empty file: no invoices
    names = [cell.strip() for cell in header]
    index = {name: i for i, name in reversed(list(enumerate(names)))}
    if mapping.canonical:
        missing = [f for f in FIELDS if f not in index]
        if missing:
            raise BillingFileError(
                f"the header lacks the column(s) {', '.join(missing)}", line=reader.line_num, field="header"
            )
        unknown = [n for n in names if n not in FIELDS]
        if unknown:
            raise BillingFileError(
                f"unknown column(s) {', '.join(unknown)} (the canonical columns are {', '.join(FIELDS)})",
                line=reader.line_num,
                field="header",
            )
    wanted = {**mapping.columns, **{f"info:{t}": c for t, c in mapping.info.items()}}
    missing = [column for column in wanted.values() if column not in index]
    if missing:
        raise BillingFileError(
            f"the header lacks the column(s) {', '.join(dict.fromkeys(missing))}", line=reader.line_num, field="header"
        )
    return {key: index[column] for key, column in wanted.items()}


def _positions(mapping: Mapping) -> dict[str, int]:
    wanted = {**mapping.columns, **{f"info:{t}": c for t, c in mapping.info.items()}}
    return {key: int(column) - 1 for key, column in wanted.items()}


def _row(cells: list[str], line: int, position: dict[str, int], mapping: Mapping, named: dict[str, str]) -> _Row:
    if not (mapping.constants or mapping.codes or mapping.info):
        return _plain_row(cells, line, position, named)
    values: dict[str, str] = dict(mapping.constants)
    info: list[Info] = []
    for key, index in position.items():
        value = cells[index].strip() if index < len(cells) else ""
        if len(value) > MAX_FIELD:
            raise BillingFileError(f"longer than {MAX_FIELD} characters", line=line, field=named.get(key, key))
        if key.startswith("info:"):
            if value:
                info.append(Info(key.removeprefix("info:"), value))
            continue
        codes = mapping.codes.get(key)
        if codes is not None and value in codes:
            value = codes[value]
        if value or key not in values:
            values[key] = value
    return _Row(line, values, tuple(info), named)


def _plain_row(cells: list[str], line: int, position: dict[str, int], named: dict[str, str]) -> _Row:
    """``_row`` for a layout without constants, codes or info columns (the canonical one): the
    same result, in one pass that the 1M-line bench shows is worth having."""
    width = len(cells)
    values = {key: cells[index].strip() if index < width else "" for key, index in position.items()}
    if max(map(len, cells), default=0) > MAX_FIELD:
        for key, value in values.items():
            if len(value) > MAX_FIELD:
                raise BillingFileError(f"longer than {MAX_FIELD} characters", line=line, field=named.get(key, key))
    return _Row(line, values, (), named)


class _Grouper:
    """Turns consecutive rows with one ``invoice_ref`` into invoices, checking each row."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.current: _Open | None = None

    def group(self, rows: Iterable[_Row | BillingFileError]) -> Iterator[Invoice | BillingFileError]:
        for row in rows:
            if isinstance(row, BillingFileError):
                yield row
                continue
            try:
                yield from self._take(row)
            except BillingFileError as exc:
                yield exc
        if self.current is not None:
            invoice = self.current.close()
            self.current = None
            if invoice is not None:
                yield invoice

    def _take(self, row: _Row) -> Iterator[Invoice | BillingFileError]:
        ref = _text(row, "invoice_ref", required=True)
        assert ref is not None
        if self.current is not None and self.current.ref != ref:
            invoice = self.current.close()
            self.current = None
            if invoice is not None:
                yield invoice
        errors: list[BillingFileError] = []
        if self.current is None:
            self.current = _Open(ref, row.line, Customer(""), None, None, broken=True)
            customer = _attempt(errors, lambda: _customer(row))
            invoice_date = _attempt(errors, lambda: _date(row, "invoice_date", self.mapping))
            due_date = _attempt(errors, lambda: _date(row, "due_date", self.mapping))
            if customer is not None and not errors:
                self.current = _Open(ref, row.line, customer, invoice_date, due_date)
                _attempt(errors, lambda: self.current.check_dates(row) if self.current else None)
        else:
            _attempt(errors, lambda: self.current.check_same(row, self.mapping) if self.current else None)
        line = _line(row, self.mapping, errors)
        if errors:
            # An invoice with a bad row is not an invoice; it stays open (broken) so that its
            # other rows are still checked, without repeating this row's errors.
            self.current.broken = True
            yield from errors
        elif line is not None:
            self.current.add(line, row)


def _attempt(errors: list[BillingFileError], check: Callable[[], T]) -> T | None:
    try:
        return check()
    except BillingFileError as exc:
        errors.append(exc)
        return None


@dataclass
class _Open:
    ref: str
    line: int
    customer: Customer
    invoice_date: date | None
    due_date: date | None
    lines: list[Line] = field(default_factory=list)
    info: dict[Info, None] = field(default_factory=dict)
    broken: bool = False

    def check_dates(self, row: _Row) -> None:
        if self.invoice_date and self.due_date and self.due_date < self.invoice_date:
            self.broken = True
            raise BillingFileError(
                f"due date {self.due_date} is before the invoice date {self.invoice_date}",
                line=row.line,
                field=row.columns["due_date"],
            )

    def check_same(self, row: _Row, mapping: Mapping) -> None:
        """Every row of an invoice names the same customer and dates (a blank repeats the first)."""
        if self.broken:
            return
        customer_no = _text(row, "customer_no", required=True)
        if customer_no != self.customer.customer_no:
            self.broken = True
            raise BillingFileError(
                f"invoice_ref {self.ref} is for customer {self.customer.customer_no} (line {self.line}), "
                f"this row names customer {customer_no}",
                line=row.line,
                field=row.columns["customer_no"],
            )
        for name in ("invoice_date", "due_date"):
            value = _date(row, name, mapping)
            first = getattr(self, name)
            if value is not None and value != first:
                self.broken = True
                raise BillingFileError(
                    f"invoice_ref {self.ref} has {name} {first} (line {self.line}), this row {value}",
                    line=row.line,
                    field=row.columns[name],
                )

    def add(self, line: Line, row: _Row) -> None:
        if len(self.lines) >= MAX_LINES_PER_INVOICE:
            self.broken = True
            raise BillingFileError(
                f"invoice_ref {self.ref} has more than {MAX_LINES_PER_INVOICE} lines",
                line=row.line,
                field=row.columns["invoice_ref"],
            )
        self.lines.append(line)
        for block in (*_info_blocks(row), *row.info):
            self.info[block] = None

    def close(self) -> Invoice | None:
        if self.broken or not self.lines:
            return None
        return Invoice(
            self.line, self.ref, self.customer, self.invoice_date, self.due_date, tuple(self.lines), tuple(self.info)
        )


def _text(row: _Row, name: str, *, required: bool = False) -> str | None:
    value = row.values.get(name, "")
    if not value:
        if required:
            raise BillingFileError("is empty", line=row.line, field=row.columns[name])
        return None
    limit = _LENGTHS.get(name)
    if limit is not None and len(value) > limit:
        raise BillingFileError(f"longer than {limit} characters", line=row.line, field=row.columns[name])
    return value


def _customer(row: _Row) -> Customer:
    values = {name: _text(row, name) for name in CUSTOMER_FIELDS}
    if values["customer_no"] is None:
        _text(row, "customer_no", required=True)
    method = values["delivery_method"]
    if method is not None and method not in DELIVERY_METHODS:
        raise BillingFileError(
            f"{method!r} is not a delivery method ({', '.join(sorted(DELIVERY_METHODS))})",
            line=row.line,
            field=row.columns["delivery_method"],
        )
    return Customer(
        customer_no=values["customer_no"] or "",
        name=values["customer_name"],
        email=values["email"],
        phone=values["phone"],
        id_number=values["id_number"],
        address=values["address"],
        postal_code=values["postal_code"],
        city=values["city"],
        delivery_method=method,
    )


def _line(row: _Row, mapping: Mapping, errors: list[BillingFileError]) -> Line | None:
    """The row's invoice line, or None with every problem of the row added to ``errors``."""
    found: list[BillingFileError] = []
    description = _attempt(found, lambda: _text(row, "description", required=True))
    item_no = _attempt(found, lambda: _text(row, "item_no"))
    quantity = _attempt(found, lambda: _quantity(row, mapping))
    price = _attempt(found, lambda: _price(row, mapping))
    vat_rate = _attempt(found, lambda: _vat_rate(row))
    errors += found
    if found or description is None or quantity is None or price is None or vat_rate is None:
        return None
    return Line(row.line, description, quantity, price, vat_rate, item_no)


def _quantity(row: _Row, mapping: Mapping) -> Decimal:
    quantity = _decimal(row, "quantity", mapping, places=3)
    if quantity <= 0 or quantity > MAX_QUANTITY:
        raise BillingFileError(
            f"{row.values['quantity']!r}: a quantity is greater than 0 and at most {MAX_QUANTITY}",
            line=row.line,
            field=row.columns["quantity"],
        )
    return quantity


def _price(row: _Row, mapping: Mapping) -> Decimal:
    price = _decimal(row, "unit_price", mapping, places=2)
    if price < 0 or price > MAX_PRICE:
        raise BillingFileError(
            f"{row.values['unit_price']!r}: a unit price is between 0 and {MAX_PRICE} kronor",
            line=row.line,
            field=row.columns["unit_price"],
        )
    return price


def _decimal(row: _Row, name: str, mapping: Mapping, *, places: int) -> Decimal:
    raw = _text(row, name, required=True) or ""
    text = raw.replace(mapping.thousands, "") if mapping.thousands else raw
    if mapping.decimal == ",":
        if "." in text:
            raise BillingFileError(f"{raw!r}: the decimal sign here is a comma", line=row.line, field=row.columns[name])
        text = text.replace(",", ".")
    if not _is_plain_decimal(text):
        raise BillingFileError(f"{raw!r} is not a number", line=row.line, field=row.columns[name])
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > places:
        raise BillingFileError(f"{raw!r} has more than {places} decimals", line=row.line, field=row.columns[name])
    return value


def _is_plain_decimal(text: str) -> bool:
    """Digits with at most one decimal point and a leading minus; no exponent, no NaN."""
    body = text[1:] if text.startswith("-") else text
    whole, _, fraction = body.partition(".")
    return (
        bool(whole or fraction)
        and (whole + fraction).isascii()
        and (whole + fraction).isdigit()
        and body.count(".") <= 1
    )


def _vat_rate(row: _Row) -> int:
    raw = _text(row, "vat_rate", required=True) or ""
    text = raw.removesuffix("%").strip()
    if not (text.isascii() and text.isdigit()) or int(text) not in VAT_RATES:
        raise BillingFileError(
            f"{raw!r} is not a Swedish VAT rate (25, 12, 6 or 0)", line=row.line, field=row.columns["vat_rate"]
        )
    return int(text)


def _date(row: _Row, name: str, mapping: Mapping) -> date | None:
    raw = _text(row, name)
    if raw is None:
        return None
    for pattern in mapping.date_formats:
        try:
            if pattern == ISO_DATE and len(raw) == 10 and raw[4] == raw[7] == "-":
                # strptime's own speed is a tenth of the whole row's: ISO dates take a short cut.
                year, month, day = raw[:4], raw[5:7], raw[8:]
                if (year + month + day).isascii() and (year + month + day).isdigit():
                    return date(int(year), int(month), int(day))
            return datetime.strptime(raw, pattern).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    patterns = " or ".join(mapping.date_formats)
    raise BillingFileError(f"{raw!r} is not a date ({patterns}) that exists", line=row.line, field=row.columns[name])


def _info_blocks(row: _Row) -> list[Info]:
    raw = row.values.get("info", "")
    blocks = []
    for part in raw.split("|"):
        part = part.strip()
        if not part:
            continue
        title, sep, text = part.partition(":")
        blocks.append(Info(title.strip(), text.strip()) if sep and title.strip() else Info("Info", part))
    for block in blocks:
        if len(block.title) > 200:
            raise BillingFileError(
                "an info title is longer than 200 characters", line=row.line, field=row.columns["info"]
            )
    return blocks


# --- JSON Lines ----------------------------------------------------------------------------------


def _read_jsonl(lines: Iterable[bytes], mapping: Mapping) -> Iterator[Invoice | BillingFileError]:
    fatal: list[BillingFileError] = []
    for number, text in enumerate(_decoded(lines, mapping.encoding, fatal), start=1):
        if not text.strip():
            continue
        try:
            yield _jsonl_invoice(text, number, mapping)
        except BillingFileError as exc:
            yield exc
    if fatal:
        yield fatal[0]


_JSON_INVOICE_KEYS = {"invoice_ref", "customer", "invoice_date", "due_date", "lines", "info"}
_JSON_LINE_KEYS = {"item_no", "description", "quantity", "unit_price", "vat_rate"}
_JSON_CUSTOMER_KEYS = {"customer_no", "name", *CUSTOMER_FIELDS[2:]}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _jsonl_invoice(text: str, number: int, mapping: Mapping) -> Invoice:
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BillingFileError(f"not valid JSON: {exc}", line=number, field="line") from None
    if not isinstance(data, dict):
        raise BillingFileError("a line holds one JSON object (an invoice)", line=number, field="line")
    _only(data, _JSON_INVOICE_KEYS, number, "")
    customer_data = data.get("customer")
    if not isinstance(customer_data, dict):
        raise BillingFileError("must be an object with customer_no", line=number, field="customer")
    _only(customer_data, _JSON_CUSTOMER_KEYS, number, "customer.")
    values = {
        "invoice_ref": data.get("invoice_ref"),
        "invoice_date": data.get("invoice_date"),
        "due_date": data.get("due_date"),
    }
    for key, value in customer_data.items():
        values["customer_name" if key == "name" else key] = value
    columns = {f: f for f in FIELDS}
    columns.update({f: f"customer.{f}" for f in CUSTOMER_FIELDS if f != "customer_name"})
    columns["customer_name"] = "customer.name"
    row = _Row(number, {k: _json_text(v, number, columns.get(k, k)) for k, v in values.items()}, (), columns)
    customer = _customer(row)
    ref = _text(row, "invoice_ref", required=True) or ""
    iso = Mapping(date_formats=("%Y-%m-%d",))
    opened = _Open(ref, number, customer, _date(row, "invoice_date", iso), _date(row, "due_date", iso))
    opened.check_dates(row)
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        raise BillingFileError("an invoice has a list of one or more lines", line=number, field="lines")
    for index, item in enumerate(lines):
        if not isinstance(item, dict):
            raise BillingFileError("must be an object", line=number, field=f"lines[{index}]")
        _only(item, _JSON_LINE_KEYS, number, f"lines[{index}].")
        line_columns = {f: f"lines[{index}].{f}" for f in FIELDS}
        line_row = _Row(number, {k: _json_text(v, number, line_columns[k]) for k, v in item.items()}, (), line_columns)
        found: list[BillingFileError] = []
        line = _line(line_row, mapping, found)
        if found or line is None:
            raise found[0]
        opened.add(line, line_row)
    opened.info.update(dict.fromkeys(_json_info(data.get("info"), number)))
    invoice = opened.close()
    assert invoice is not None
    return invoice


def _only(data: dict[str, Any], allowed: set[str], number: int, prefix: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BillingFileError(f"unknown field(s) {', '.join(unknown)}", line=number, field=f"{prefix}{unknown[0]}")


def _json_text(value: Any, number: int, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise BillingFileError(f"{value!r} must be text or a number", line=number, field=name)
    text = str(value).strip()
    if "\x00" in text:
        raise BillingFileError("holds a NUL character", line=number, field=name)
    return text


def _json_info(value: Any, number: int) -> list[Info]:
    if value is None:
        return []
    pairs: list[tuple[Any, Any]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(b, dict) and set(b) == {"title", "text"} for b in value):
        pairs = [(b["title"], b["text"]) for b in value]
    else:
        raise BillingFileError('info is {"title": "text"} or [{"title", "text"}]', line=number, field="info")
    blocks = []
    for title, text in pairs:
        if (
            not isinstance(title, str)
            or not isinstance(text, str)
            or not title
            or len(title) > 200
            or len(text) > MAX_FIELD
        ):
            raise BillingFileError("an info block is a title (≤ 200) and a text (≤ 4000)", line=number, field="info")
        if "\x00" in title + text:
            raise BillingFileError("holds a NUL character", line=number, field="info")
        blocks.append(Info(title, text))
    return blocks


# --- writing (tests, benches, exports) -----------------------------------------------------------


def _info_text(info: tuple[Info, ...]) -> str:
    return " | ".join(f"{block.title}: {block.text}" for block in info)


def write_csv(invoices: Iterable[Invoice]) -> Iterator[str]:
    """The canonical CSV of ``invoices``, line by line (header first); info on each first row."""
    out: list[str] = []

    class _Sink:
        def write(self, text: str) -> int:
            out.append(text)
            return len(text)

    writer = csv.writer(_Sink(), lineterminator="\n")
    writer.writerow(FIELDS)
    yield from out
    for invoice in invoices:
        for index, line in enumerate(invoice.lines):
            out.clear()
            c = invoice.customer
            writer.writerow(
                [
                    c.customer_no,
                    c.name or "",
                    c.email or "",
                    c.phone or "",
                    c.id_number or "",
                    c.address or "",
                    c.postal_code or "",
                    c.city or "",
                    c.delivery_method or "",
                    invoice.invoice_ref,
                    invoice.invoice_date.isoformat() if invoice.invoice_date else "",
                    invoice.due_date.isoformat() if invoice.due_date else "",
                    line.item_no or "",
                    line.description,
                    format(line.quantity, "f"),
                    format(line.unit_price, "f"),
                    str(line.vat_rate),
                    _info_text(invoice.info) if index == 0 else "",
                ]
            )
            yield from out


def write_jsonl(invoices: Iterable[Invoice]) -> Iterator[str]:
    """One JSON object a line, numbers as strings (never floats)."""
    for invoice in invoices:
        c = invoice.customer
        customer = {
            "customer_no": c.customer_no,
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "id_number": c.id_number,
            "address": c.address,
            "postal_code": c.postal_code,
            "city": c.city,
            "delivery_method": c.delivery_method,
        }
        data = {
            "invoice_ref": invoice.invoice_ref,
            "customer": {k: v for k, v in customer.items() if v is not None},
            "invoice_date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
            "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
            "lines": [
                {
                    "item_no": line.item_no,
                    "description": line.description,
                    "quantity": format(line.quantity, "f"),
                    "unit_price": format(line.unit_price, "f"),
                    "vat_rate": line.vat_rate,
                }
                for line in invoice.lines
            ],
            "info": [{"title": b.title, "text": b.text} for b in invoice.info],
        }
        yield json.dumps(data, ensure_ascii=False) + "\n"
