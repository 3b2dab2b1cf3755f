"""BGMax properties: every valid file survives write -> parse, and no input crashes the reader.

The reader may refuse input only with ``BgmaxError`` (naming a line and field); any other
exception from ``parse``/``validate`` on arbitrary bytes is a bug.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvitt.formats import bgmax
from kvitt.formats.bgmax import BgmaxDeposit, BgmaxError, BgmaxPayment, ExtraReference

DATA = Path(__file__).parent.parent / "data" / "bankgirot"
SAMPLES = [
    (DATA / "bgmax_sample_ocr_check_length.txt").read_bytes(),
    (DATA / "autogiro_payments_in_bgmax_format.txt").read_bytes(),
]

# Printable ISO-8859-1: what a record's text can hold (no C0/C1 controls, no DEL).
PRINTABLE = "".join(chr(code) for code in [*range(0x20, 0x7F), *range(0xA0, 0x100)])
DIGITS = "0123456789"


def text(max_size: int) -> st.SearchStrategy[str]:
    """Text as the reader gives it back: no leading or trailing blanks."""
    return st.text(PRINTABLE, max_size=max_size).map(lambda value: value.strip(" "))


def optional_text(max_size: int) -> st.SearchStrategy[str | None]:
    return st.none() | text(max_size).filter(bool)


def digits(size: int) -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=size, max_size=size)


def names() -> st.SearchStrategy[str | None]:
    """TK26: a name of up to 35 characters, with an extra name of up to 35 after a blank."""
    first = text(35).filter(bool)
    return st.none() | first | st.tuples(first, text(35).filter(bool)).map(" ".join)


@st.composite
def payments(draw: st.DrawFn, kind: str, amount: int) -> BgmaxPayment:
    channel = draw(st.integers(1, 4))
    serial = draw(st.just(" " * 12) | digits(12) | st.text(PRINTABLE, min_size=12, max_size=12))
    return BgmaxPayment(
        kind=kind,
        payer_bankgiro=draw(digits(10)),
        reference=draw(st.one_of(digits(25).map(lambda ref: ref.lstrip("0")), text(25))),
        amount=amount,
        reference_code=draw(st.integers(0, 5)),
        channel=channel,
        bgc_serial=serial,
        has_image=draw(st.booleans()),
        deduction_code=draw(st.none() | st.integers(0, 9)) if kind == "deduction" else None,
        extra_references=tuple(
            draw(
                st.lists(
                    st.builds(
                        ExtraReference,
                        reference=text(25),
                        amount=st.integers(-(10**18) + 1, 10**18 - 1),
                        reference_code=st.integers(0, 5),
                    ),
                    max_size=3,
                )
            )
        ),
        free_text=tuple(draw(st.lists(text(50), max_size=2))),
        payer_name=draw(names()),
        payer_address=draw(optional_text(35)),
        payer_postcode=draw(optional_text(9)),
        payer_city=draw(optional_text(35)),
        payer_country=draw(optional_text(35)),
        payer_country_code=draw(optional_text(2)),
        payer_org_number=draw(optional_text(12)),
    )


@st.composite
def deposits(draw: st.DrawFn) -> BgmaxDeposit:
    kinds = draw(st.lists(st.sampled_from(["payment", "payment", "deduction"]), max_size=5))
    items: list[BgmaxPayment] = []
    total = 0
    for kind in kinds:
        if kind == "payment":
            amount = draw(st.integers(0, 10**15))
            total += amount
        else:  # a deduction never takes the deposit below zero
            amount = draw(st.integers(0, total))
            total -= amount
        items.append(draw(payments(kind, amount)))
    return BgmaxDeposit(
        payee_bankgiro=draw(digits(10)),
        payee_plusgiro=draw(st.none() | digits(10)),
        currency=draw(st.just("SEK") | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)),
        payments=tuple(items),
        account=draw(text(35)),
        date=draw(st.dates(min_value=date(1000, 1, 1))),
        deposit_serial=draw(digits(5) | st.text(PRINTABLE, min_size=5, max_size=5)),
        amount=total,
        count=len(items),
        deposit_type=draw(st.just("") | st.text(PRINTABLE.replace(" ", ""), min_size=1, max_size=1)),
    )


files = st.builds(
    bgmax.file_of,
    st.datetimes(min_value=datetime(1000, 1, 1)),
    st.lists(deposits(), max_size=3),
    test=st.booleans(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files)
def test_valid_files_round_trip(file: bgmax.BgmaxFile) -> None:
    data = bgmax.write(file)
    assert bgmax.parse(data) == file
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    assert all(len(line) == 80 for line in lines[:-1])
    header, deposit_count, payment_count = bgmax.validate(data.splitlines(keepends=True))
    assert header == file.header
    assert deposit_count == len(file.deposits)
    assert payment_count == sum(len(deposit.payments) for deposit in file.deposits)
    assert list(bgmax.iter_deposits(data.split(b"\n"))) == list(file.deposits)


def must_not_crash(data: bytes) -> None:
    try:
        file = bgmax.parse(data)
    except BgmaxError as error:
        assert error.line >= 1
        assert str(error).startswith(f"line {error.line}, {error.field}: ")
        return
    # what is read can be written and read again to the same value
    assert bgmax.parse(bgmax.write(file)) == file


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_bgmax_errors(data: bytes) -> None:
    must_not_crash(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(PRINTABLE + "\r\t", max_size=90), max_size=12))
def test_random_records_after_a_header_raise_only_bgmax_errors(records: list[str]) -> None:
    header = "01BGMAX               0120040525173035010331P"
    must_not_crash("\r\n".join([header, *records]).encode("iso-8859-1"))


# Bytes a mutation inserts: mostly the ones that matter to the format.
MEANINGFUL = st.sampled_from(list(b"0123456789 \r\nTPABGMX\t\x00\xe5\xff"))
ANY_BYTE = st.integers(0, 255)


@st.composite
def mutated(draw: st.DrawFn, source: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(1, 6))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        value = draw(MEANINGFUL | ANY_BYTE)
        if operation == "flip" and data:
            data[position] = value
        elif operation == "insert":
            data.insert(position, value)
        elif operation == "delete" and data:
            del data[position]
        elif operation == "cut":
            del data[position:]
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(mutated(st.sampled_from(SAMPLES)))
def test_mutated_samples_raise_only_bgmax_errors(data: bytes) -> None:
    must_not_crash(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(files.map(bgmax.write)))
def test_mutated_written_files_raise_only_bgmax_errors(data: bytes) -> None:
    must_not_crash(data)
