"""Every codec in kvitt.formats on arbitrary input: a value, or the codec's own error.

Readers (BGMax, billing files in every shipped layout, billing-file mappings, SIE 4, the Swish
C format) get arbitrary bytes and text, and mutations of valid files (a line cut, spliced,
doubled, dropped; a byte changed), so the search gets past the first record. Writers (Peppol
UBL, SIE 4, the QR invoice, Swish, OCR references) get arbitrary field values. The only
exception allowed is the codec's error class, and a reader's error names the line (and for
billing files the field). Example counts are bounded (``KVITT_FUZZ_EXAMPLES``, default 150) so
the file runs in seconds; raise it locally to search longer.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvitt.formats import bgmax, billing_file, ocr, peppol, qr_invoice, sie4, swish_qr
from tests.formats.test_peppol import INVOICE
from tests.formats.test_sie4 import COMPANY

EXAMPLES = int(os.environ.get("KVITT_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

ROOT = Path(__file__).resolve().parents[2]
BGMAX_SAMPLES = sorted((ROOT / "tests" / "data" / "bankgirot").glob("*.txt"))
EXAMPLES_DIR = ROOT / "examples" / "billing-files"
LAYOUTS: list[tuple[billing_file.Mapping, bytes]] = [
    (billing_file.CANONICAL, (EXAMPLES_DIR / "canonical.csv").read_bytes()),
    (billing_file.JSONL, (EXAMPLES_DIR / "canonical.jsonl").read_bytes()),
    *(
        (billing_file.parse_mapping((EXAMPLES_DIR / f"{name}.toml").read_text(), name=name), data)
        for name, data in (
            ("erp-semikolon", (EXAMPLES_DIR / "erp-semikolon.csv").read_bytes()),
            ("telekom-fast", (EXAMPLES_DIR / "telekom-fast.tsv").read_bytes()),
        )
    ),
]
MAPPING_TEXTS = [(EXAMPLES_DIR / f"{name}.toml").read_text() for name in ("erp-semikolon", "telekom-fast")]
SIE_SAMPLE = sie4.write(
    sie4.SieFile(
        COMPANY,
        {"1510": "Kundfordringar", "3001": "Försäljning", "2611": "Utgående moms 25 %"},
        (
            sie4.Voucher(
                "A",
                1,
                date(2026, 11, 25),
                "Faktura 1001",
                (
                    sie4.Transaction("1510", 39500, "Faktura 1001"),
                    sie4.Transaction("3001", -31600),
                    sie4.Transaction("2611", -7900),
                ),
            ),
        ),
    )
)

text = st.text(max_size=60)
any_int = st.integers(-(10**20), 10**20) | st.integers(-200, 200)
any_date = st.dates(date(1, 1, 1), date(9999, 12, 31))


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few line-level and byte-level changes."""
    lines = data.splitlines(keepends=True) or [b""]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["cut", "splice", "double", "drop", "byte", "replace", "ending"]))
        line = lines[i]
        if how == "cut":
            lines[i] = line[: draw(st.integers(0, len(line)))] + b"\r\n"
        elif how == "splice":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.binary(max_size=12)) + line[at + draw(st.integers(0, 12)) :]
        elif how == "double":
            lines.insert(i, line)
        elif how == "drop" and len(lines) > 1:
            del lines[i]
        elif how == "byte" and line:
            at = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1 :]
        elif how == "replace":
            lines[i] = draw(st.binary(max_size=90)) + b"\n"
        elif how == "ending":
            lines[i] = line.rstrip(b"\r\n") + draw(st.sampled_from([b"", b"\r", b"\n", b"\r\n", b"\n\r"]))
    return b"".join(lines)


def raw_or_mutated(samples: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=400) | st.sampled_from(samples).flatmap(mutated)


# --- readers ---------------------------------------------------------------------------------


@fuzz
@given(raw_or_mutated([path.read_bytes() for path in BGMAX_SAMPLES]))
def test_bgmax_reads_any_bytes_or_names_the_line(data: bytes) -> None:
    try:
        parsed = bgmax.parse(data)
    except bgmax.BgmaxError as error:
        assert "line" in str(error), str(error)
    else:
        assert isinstance(parsed, bgmax.BgmaxFile)


@fuzz
@given(st.sampled_from(range(len(LAYOUTS))).flatmap(lambda i: st.tuples(st.just(i), mutated(LAYOUTS[i][1]))))
def test_billing_files_in_every_layout_read_or_name_line_and_field(case: tuple[int, bytes]) -> None:
    mapping, _ = LAYOUTS[case[0]]
    for result in billing_file.read(case[1].splitlines(keepends=True), mapping):
        if isinstance(result, billing_file.BillingFileError):
            assert result.line >= 0 and result.field, str(result)
        else:
            assert isinstance(result, billing_file.Invoice)


@fuzz
@given(st.sampled_from(range(len(LAYOUTS))), st.lists(st.binary(max_size=120), max_size=6))
def test_billing_files_of_arbitrary_lines_read_or_name_line_and_field(layout: int, lines: list[bytes]) -> None:
    mapping, sample = LAYOUTS[layout]
    header = sample.splitlines(keepends=True)[:1] if mapping.kind != "jsonl" else []
    for result in billing_file.read([*header, *lines], mapping):
        assert isinstance(result, billing_file.Invoice | billing_file.BillingFileError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
INVOICE_KEYS = ["invoice_ref", "customer", "invoice_date", "due_date", "lines", "info", "customer_no", "name"]
LINE_KEYS = ["description", "quantity", "unit_price", "vat_rate", "item_no", "unit"]


@fuzz
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(INVOICE_KEYS),
            json_values
            | st.lists(st.dictionaries(st.sampled_from(LINE_KEYS), json_values, max_size=6), max_size=3)
            | st.dictionaries(st.sampled_from(["customer_no", "name", "email", "type"]), json_values, max_size=4),
            max_size=8,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_jsonl_billing_files_of_any_json_read_or_name_line_and_field(objects: list[dict[str, Any]]) -> None:
    lines = [json.dumps(one).encode() + b"\n" for one in objects]
    for result in billing_file.read(lines, billing_file.JSONL):
        if isinstance(result, billing_file.BillingFileError):
            assert result.line >= 1 and result.field, str(result)


@fuzz
@given(
    st.text(max_size=300)
    | st.sampled_from(MAPPING_TEXTS).flatmap(lambda t: mutated(t.encode())).map(lambda b: b.decode("utf-8", "replace"))
)
def test_billing_file_mappings_parse_or_name_the_mapping(text_: str) -> None:
    try:
        mapping = billing_file.parse_mapping(text_, name="fuzz")
    except billing_file.BillingFileError as error:
        assert error.line == 0 and "mapping" in error.field
    else:
        assert isinstance(mapping, billing_file.Mapping)


@fuzz
@given(raw_or_mutated([SIE_SAMPLE]))
def test_sie4_reads_any_bytes_or_names_the_line(data: bytes) -> None:
    try:
        parsed = sie4.read(data)
    except sie4.SieError as error:
        assert str(error)
    else:
        assert isinstance(parsed, sie4.SieFile)


@fuzz
@given(st.text(max_size=80))
def test_swish_c_format_parses_or_refuses(content: str) -> None:
    try:
        _, ore, _, mask = swish_qr.parse_c_format(content)
    except swish_qr.SwishError:
        pass
    else:
        assert isinstance(ore, int) and isinstance(mask, int)


# --- writers ---------------------------------------------------------------------------------


@fuzz
@given(
    st.text(max_size=40) | st.integers(-(10**30), 10**30).map(str) | any_int,
    st.none() | st.integers(-5, 30),
)
def test_ocr_references_are_made_or_refused(base: Any, length: int | None) -> None:
    try:
        reference = ocr.make_reference(base, length=length)
    except ocr.OcrError:
        pass
    else:
        assert ocr.is_valid(reference)


@fuzz
@given(st.text(max_size=30))
def test_ocr_validity_of_any_text_is_a_yes_or_no(reference: str) -> None:
    assert ocr.is_valid(reference) in (True, False)
    assert ocr.is_valid(reference, with_length_digit=False) in (True, False)


@fuzz
@given(text, any_int, text, st.integers(-10, 20))
def test_swish_payments_are_encoded_or_refused(payee: str, ore: int, message: str, editable: int) -> None:
    try:
        content = swish_qr.c_format(payee, ore, message, editable)
    except swish_qr.SwishError:
        pass
    else:
        assert swish_qr.parse_c_format(content)[1] == ore


@fuzz
@given(
    st.builds(
        qr_invoice.QrInvoice,
        payee_name=text,
        country=text,
        company_id=text,
        reference=text,
        invoice_date=any_date,
        due_date=any_date,
        amount_ore=any_int,
        currency=text,
        payment_type=text,
        account=text,
    )
)
def test_qr_invoices_are_encoded_or_refused(invoice: qr_invoice.QrInvoice) -> None:
    with contextlib.suppress(qr_invoice.QrInvoiceError):
        assert isinstance(qr_invoice.encode(invoice), str)


parties = st.builds(
    peppol.Party,
    name=text,
    endpoint_scheme=text,
    endpoint_id=text,
    address=st.builds(peppol.Address, country=text, street=st.none() | text, city=st.none() | text),
    legal_id=st.none() | text,
    vat_id=st.none() | text,
    email=st.none() | text,
)
lines = st.builds(
    peppol.Line,
    description=text,
    quantity=st.decimals(allow_nan=True, allow_infinity=True) | st.just(Decimal(1)),
    unit_price_ore=any_int,
    net_ore=any_int,
    vat_rate=st.sampled_from([25, 12, 6, 0]) | st.integers(-5, 101),
    unit=st.none() | text,
    article_no=st.none() | text,
)


@fuzz
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "number": text,
            "currency": text,
            "buyer_reference": text,
            "seller": parties,
            "buyer": parties,
            "lines": st.lists(lines, max_size=3),
            "vat_groups": st.lists(st.builds(peppol.VatGroup, st.integers(-5, 30), any_int, any_int), max_size=3),
            "rounding_ore": any_int,
            "issue_date": any_date,
            "due_date": st.none() | any_date,
            "notes": st.lists(text, max_size=2),
            "payment_terms": st.none() | text,
            "payment": st.none() | st.builds(peppol.PaymentDetails, st.none() | text, st.none() | text),
        },
    )
)
def test_peppol_documents_are_written_or_refused(changes: dict[str, Any]) -> None:
    with contextlib.suppress(peppol.PeppolError):
        assert peppol.write(replace(INVOICE, **changes)).startswith(b"<?xml")


@fuzz
@given(
    st.fixed_dictionaries(
        {},
        optional={"name": text, "org_number": st.none() | text, "program": text, "currency": text},
    ),
    st.dictionaries(text, text, max_size=3),
    st.lists(
        st.builds(
            sie4.Voucher,
            series=text,
            number=st.none() | any_int,
            date=any_date,
            text=text,
            transactions=st.lists(st.builds(sie4.Transaction, text, any_int, text), max_size=3).map(tuple),
        ),
        max_size=2,
    ),
)
def test_sie4_files_are_written_or_refused(
    company: dict[str, Any], accounts: dict[str, str], vouchers: list[Any]
) -> None:
    try:
        data = sie4.write(sie4.SieFile(replace(COMPANY, **company), accounts, tuple(vouchers)))
    except sie4.SieError:
        return
    assert isinstance(sie4.read(data), sie4.SieFile)  # what it writes, it reads back
