"""The billing-file codec: canonical CSV, JSON Lines, TOML mappings, and every bad input.

Sources: the canonical format is Kvitt's own (docs/billing-files.md, issue 4). The VAT rates
are Mervärdesskattelagen (2023:200) 9 kap. (SWEDISH-RULES.md): 25 % general rate, 12 % and
6 % reduced rates, 0 % for exempt supplies; nothing else is a Swedish rate.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvitt.formats import billing_file as bf
from kvitt.formats.billing_file import BillingFileError

HEADER = ",".join(bf.FIELDS)
ROW = (
    "1001,Astrid Lindqvist,astrid@example.se,070-123 45 67,,Storgatan 1,11122,Stockholm,email,"
    "F-1,2026-11-30,2026-12-30,MOB-1,Mobilabonnemang,1,199.00,25,Surf: 12 GB | Bindningstid till: 2027-03-31"
)


def lines(*rows: str, header: str = HEADER) -> list[bytes]:
    return [(row + "\n").encode() for row in (header, *rows)]


def row(**changes: str) -> str:
    values = dict(zip(bf.FIELDS, ROW.split(","), strict=True))
    values.update(changes)
    return ",".join(values[f] for f in bf.FIELDS)


def results(data: list[bytes], mapping: bf.Mapping = bf.CANONICAL) -> list[bf.Invoice | BillingFileError]:
    return list(bf.read(data, mapping))


def errors(data: list[bytes], mapping: bf.Mapping = bf.CANONICAL) -> list[tuple[int, str]]:
    return [(r.line, r.field) for r in results(data, mapping) if isinstance(r, BillingFileError)]


def test_rows_sharing_an_invoice_ref_form_one_invoice() -> None:
    data = lines(ROW, row(description="Extra surf", quantity="2.5", unit_price="10.10", vat_rate="25", info=""))
    (invoice,) = bf.iter_invoices(data)
    assert invoice.invoice_ref == "F-1" and invoice.line == 2
    assert invoice.customer.customer_no == "1001" and invoice.customer.delivery_method == "email"
    assert invoice.invoice_date == date(2026, 11, 30) and invoice.due_date == date(2026, 12, 30)
    assert [line.quantity for line in invoice.lines] == [Decimal(1), Decimal("2.5")]
    assert [line.unit_price_ore for line in invoice.lines] == [19900, 1010]
    assert invoice.info == (bf.Info("Surf", "12 GB"), bf.Info("Bindningstid till", "2027-03-31"))
    assert invoice.net == Decimal("224.25")


def test_a_byte_order_mark_crlf_and_blank_lines_are_fine() -> None:
    data = [b"\xef\xbb\xbf" + (HEADER + "\r\n").encode(), (ROW + "\r\n").encode(), b"\r\n"]
    assert len(list(bf.iter_invoices(data))) == 1


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"vat_rate": "24"}, "vat_rate", "not a Swedish VAT rate"),
        ({"quantity": "abc"}, "quantity", "not a number"),
        ({"quantity": "0"}, "quantity", "greater than 0"),
        ({"quantity": "1.0005"}, "quantity", "more than 3 decimals"),
        ({"unit_price": '"199,00"'}, "unit_price", "not a number"),
        ({"unit_price": "1.999"}, "unit_price", "more than 2 decimals"),
        ({"unit_price": "1e3"}, "unit_price", "not a number"),
        ({"invoice_date": "2026-02-30"}, "invoice_date", "not a date"),
        ({"due_date": "2026-11-01"}, "due_date", "before the invoice date"),
        ({"delivery_method": "fax"}, "delivery_method", "not a delivery method"),
        ({"customer_no": ""}, "customer_no", "is empty"),
        ({"description": ""}, "description", "is empty"),
    ],
)
def test_a_bad_value_is_an_error_naming_line_and_column(change: dict[str, str], field: str, text: str) -> None:
    (error,) = [r for r in results(lines(ROW.replace("F-1", "F-0"), row(**change))) if isinstance(r, BillingFileError)]
    assert (error.line, error.field) == (3, field)
    assert text in error.message


@pytest.mark.parametrize("rate", ["25", "12", "6", "0"])
def test_the_swedish_vat_rates_are_read(rate: str) -> None:
    """Mervärdesskattelagen (2023:200) 9 kap.: 25, 12, 6 and 0 %."""
    (invoice,) = bf.iter_invoices(lines(row(vat_rate=rate)))
    assert invoice.lines[0].vat_rate == int(rate)


def test_vat_rate_24_is_refused() -> None:
    """24 % is no Swedish rate (Mervärdesskattelagen 2023:200, 9 kap.: 25, 12, 6 or 0)."""
    assert errors(lines(row(vat_rate="24"))) == [(2, "vat_rate")]


def test_every_error_of_a_row_is_reported_and_reading_goes_on() -> None:
    data = lines(row(invoice_date="2026-02-30", quantity="abc", vat_rate="24"), row(invoice_ref="F-2"))
    found = results(data)
    assert [(r.line, r.field) for r in found if isinstance(r, BillingFileError)] == [
        (2, "invoice_date"),
        (2, "quantity"),
        (2, "vat_rate"),
    ]
    assert [r.invoice_ref for r in found if isinstance(r, bf.Invoice)] == ["F-2"]


def test_a_missing_column_stops_reading() -> None:
    header = HEADER.replace(",vat_rate", "")
    (error,) = results(lines(row(), header=header))
    assert (error.line, error.field) == (1, "header")  # type: ignore[union-attr]
    assert "vat_rate" in error.message  # type: ignore[union-attr]


def test_an_unknown_column_is_refused() -> None:
    assert errors(lines(ROW + ",x", header=HEADER + ",colour")) == [(1, "header")]


def test_two_customers_on_one_invoice_ref_is_an_error() -> None:
    found = results(lines(ROW, row(customer_no="1002", customer_name="Bo")))
    (error,) = [r for r in found if isinstance(r, BillingFileError)]
    assert (error.line, error.field) == (3, "customer_no")
    assert "1001" in error.message and "1002" in error.message
    assert not [r for r in found if isinstance(r, bf.Invoice)]  # the invoice is not half read


def test_an_invoice_ref_used_again_later_is_an_error() -> None:
    found = errors(lines(ROW, row(invoice_ref="F-2"), row()))
    assert found == [(4, "invoice_ref")]


def test_undecodable_bytes_and_broken_quotes_are_errors() -> None:
    assert errors([(HEADER + "\n").encode(), b"\xff\xfe,\n"]) == [(2, "file")]
    assert errors(lines('1001,"unterminated')) == [(2, "row")]


def test_the_reader_is_lazy() -> None:
    """Rows are read as they are needed: the first invoice comes before the file's end is read."""
    consumed = 0

    def source() -> Iterator[bytes]:
        nonlocal consumed
        for index, item in enumerate(
            [*lines(ROW), *(f"{row(invoice_ref=f'F-{i}')}\n".encode() for i in range(2, 10**6))]
        ):
            consumed = index + 1
            yield item

    reader = bf.iter_invoices(source())
    first = next(reader)
    assert first.invoice_ref == "F-1"
    assert consumed <= 3  # the header, the row and the next invoice's first row


def test_memory_does_not_grow_with_the_file() -> None:
    """Four times the invoices cost at most the duplicate-ref fingerprints more (16-32 bytes an
    invoice, 48 while the table doubles): a parsed invoice (objects, Decimals) is well over
    1 KB, so keeping them, or the input, would show here. The bench measures RSS at 100k-3M
    lines (bench/billing_file.py)."""
    import tracemalloc

    def source(count: int) -> Iterator[bytes]:
        yield (HEADER + "\n").encode()
        for n in range(count):
            yield f"{row(invoice_ref=f'F-{n}', customer_no=f'C{n}')}\n".encode()

    peaks = []
    for count in (2000, 8000):
        tracemalloc.start()
        assert sum(1 for _ in bf.iter_invoices(source(count))) == count
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] - peaks[0] < 64 * 6000, peaks


# --- JSON Lines ----------------------------------------------------------------------------------


def test_json_lines_one_invoice_a_line_with_nested_lines() -> None:
    text = (
        '{"invoice_ref": "J-1", "customer": {"customer_no": "7", "name": "Bo"}, "invoice_date": "2026-11-30",'
        ' "lines": [{"description": "El", "quantity": "412.5", "unit_price": 1.25, "vat_rate": 25}],'
        ' "info": {"Förbrukning": "412,5 kWh"}}\n'
    )
    (invoice,) = bf.iter_invoices([text.encode()], bf.JSONL)
    assert invoice.lines[0].unit_price == Decimal("1.25") and invoice.lines[0].quantity == Decimal("412.5")
    assert invoice.info == (bf.Info("Förbrukning", "412,5 kWh"),)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"invoice_ref": "J", "customer": {"customer_no": "7"}, "lines": []}', "lines"),
        (
            '{"invoice_ref": "J", "customer": {"customer_no": "7"}, "lines": [{"description": "x", '
            '"quantity": "abc", "unit_price": "1", "vat_rate": 25}]}',
            "lines[0].quantity",
        ),
        (
            '{"invoice_ref": "J", "customer": {"customer_no": "7"}, "lines": [{"description": "x", '
            '"quantity": 1, "unit_price": "1", "vat_rate": 24}]}',
            "lines[0].vat_rate",
        ),
        (
            '{"invoice_ref": "J", "customer": {"customer_no": "7"}, "lines": [{"description": "x", '
            '"quantity": true, "unit_price": "1", "vat_rate": 25}]}',
            "lines[0].quantity",
        ),
        ('{"invoice_ref": "J", "customer": {"customer_no": 7, "fax": 1}, "lines": []}', "customer.fax"),
        ("[1, 2]", "line"),
        ("{nope", "line"),
    ],
)
def test_json_lines_errors_name_the_field(line: str, field: str) -> None:
    (error,) = results([line.encode()], bf.JSONL)
    assert isinstance(error, BillingFileError)
    assert (error.line, error.field) == (1, field)


def test_csv_and_jsonl_writers_round_trip() -> None:
    invoices = list(bf.iter_invoices(lines(ROW, row(description="B", quantity="3"), row(invoice_ref="F-2"))))
    assert _same(invoices, list(bf.iter_invoices([t.encode() for t in bf.write_csv(invoices)])))
    assert _same(invoices, list(bf.iter_invoices([t.encode() for t in bf.write_jsonl(invoices)], bf.JSONL)))


def _without_line_numbers(invoice: bf.Invoice) -> tuple[object, ...]:
    return (
        invoice.invoice_ref,
        invoice.customer,
        invoice.invoice_date,
        invoice.due_date,
        invoice.info,
        [(ln.description, ln.quantity, ln.unit_price, ln.vat_rate, ln.item_no) for ln in invoice.lines],
    )


def _same(a: list[bf.Invoice], b: list[bf.Invoice]) -> bool:
    return [_without_line_numbers(i) for i in a] == [_without_line_numbers(i) for i in b]


# --- mappings ------------------------------------------------------------------------------------

ERP_MAPPING = """
name = "erp"
[format]
delimiter = ";"
decimal = ","
thousands = " "
date_formats = ["%d/%m/%Y", "%Y%m%d"]
encoding = "cp1252"
[columns]
customer_no = "Kundnr"
customer_name = "Namn"
invoice_ref = "Fakturanr"
invoice_date = "Fakturadatum"
description = "Text"
quantity = "Antal"
unit_price = "Pris"
vat_rate = "Momskod"
delivery_method = "Leverans"
[constants]
delivery_method = "letter"
[codes.vat_rate]
"1" = "25"
"2" = "12"
[codes.delivery_method]
"E-post" = "email"
[info]
"Förbrukning" = "Kwh"
"""


def test_a_mapping_reads_another_layout() -> None:
    mapping = bf.parse_mapping(ERP_MAPPING)
    data = [
        "Kundnr;Namn;Fakturanr;Fakturadatum;Text;Antal;Pris;Momskod;Leverans;Kwh\n".encode("cp1252"),
        "K1;Åsa Öberg;9001;30/11/2026;Elnät;1;1 234,50;1;E-post;412 kWh\n".encode("cp1252"),
        "K1;;9001;20261130;Energiskatt;412,5;0,43;2;;\n".encode("cp1252"),
        "K2;Bo;9002;;Elnät;1;10;1;;\n".encode("cp1252"),
    ]
    first, second = bf.iter_invoices(data, mapping)
    assert first.customer.name == "Åsa Öberg" and first.customer.delivery_method == "email"
    assert [(ln.quantity, ln.unit_price, ln.vat_rate) for ln in first.lines] == [
        (Decimal(1), Decimal("1234.50"), 25),
        (Decimal("412.5"), Decimal("0.43"), 12),
    ]
    assert first.invoice_date == date(2026, 11, 30)
    assert first.info == (bf.Info("Förbrukning", "412 kWh"),)
    assert second.customer.delivery_method == "letter"  # the constant where the column is blank


def test_mapped_errors_name_the_source_column() -> None:
    mapping = bf.parse_mapping(ERP_MAPPING)
    data = [
        b"Kundnr;Namn;Fakturanr;Fakturadatum;Text;Antal;Pris;Momskod;Leverans;Kwh\n",
        b"K1;A;9001;31/02/2026;X;abc;1,5;7;;\n",
    ]
    assert [(e.field, e.line) for e in results(data, mapping) if isinstance(e, BillingFileError)] == [
        ("invoice_date (column 'Fakturadatum')", 2),
        ("quantity (column 'Antal')", 2),
        ("vat_rate (column 'Momskod')", 2),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "[format]\ndecimal = ';'",
        "[columns]\ncolour = 'x'",
        "[format]\nencoding = 'klingon'",
        "[columns]\ncustomer_no = 'a'",  # required fields unmapped
        "not toml = = =",
        "[surprise]\n",
    ],
)
def test_a_bad_mapping_is_a_billing_file_error(text: str) -> None:
    with pytest.raises(BillingFileError) as caught:
        bf.parse_mapping(text)
    assert caught.value.line == 0 and caught.value.field.startswith("mapping")


def test_errors_pickle() -> None:
    error = BillingFileError("x", line=3, field="quantity")
    again = pickle.loads(pickle.dumps(error))
    assert (again.line, again.field, again.message) == (3, "quantity", "x")


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([bf.CANONICAL, bf.JSONL, bf.parse_mapping(ERP_MAPPING)]))
def test_arbitrary_bytes_raise_only_billing_file_errors(data: bytes, mapping: bf.Mapping) -> None:
    for chunk in (data.splitlines(keepends=True), [HEADER.encode() + b"\n", *data.splitlines(keepends=True)]):
        for result in bf.read(chunk, mapping):
            assert isinstance(result, bf.Invoice | BillingFileError)


prices = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=1000, places=3, allow_nan=False, allow_infinity=False)
lines_st = st.lists(st.tuples(quantities, prices, st.sampled_from([25, 12, 6, 0])), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None)
@given(st.lists(lines_st, min_size=1, max_size=8))
def test_the_totals_of_parsed_invoices_are_the_sums_of_their_lines(
    invoices: list[list[tuple[Decimal, Decimal, int]]],
) -> None:
    """Each invoice's net is the sum of its lines' quantity × price (half up to öre), per VAT rate
    too, and nothing is lost or doubled across the file, in CSV and in JSON Lines."""
    rows = [
        row(invoice_ref=f"F-{n}", customer_no=f"C{n}", quantity=str(q), unit_price=str(p), vat_rate=str(r), info="")
        for n, invoice in enumerate(invoices)
        for q, p, r in invoice
    ]
    parsed = list(bf.iter_invoices(lines(*rows)))
    assert len(parsed) == len(invoices)
    for got, wanted in zip(parsed, invoices, strict=True):
        expected = [(q * p).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP") for q, p, _ in wanted]
        assert got.net == sum(expected, Decimal(0))
        by_rate: dict[int, Decimal] = {}
        for (_, _, rate), net in zip(wanted, expected, strict=True):
            by_rate[rate] = by_rate.get(rate, Decimal(0)) + net
        assert got.net_by_rate() == by_rate
    again = list(bf.iter_invoices([t.encode() for t in bf.write_jsonl(parsed)], bf.JSONL))
    assert [i.net for i in again] == [i.net for i in parsed]
