"""BGMax (Bankgiro Inbetalningar) reader and writer.

Sources:
- Bankgirot, "Bankgiro Inbetalningar Teknisk manual", record and file description of the
  BgMax file (summarised in SWEDISH-RULES.md): positions of TK01, TK05, TK20-29, TK15, TK70.
- Bankgirot's published example files, copied unchanged into tests/data/bankgirot/:
  the OCR example ("Avtal om OCR-kontroll: checksiffra och längd") and autogiro payments
  delivered in BGMax format. The expected values below were read off those files by hand.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from kvitt.formats import bgmax
from kvitt.formats.bgmax import BgmaxDeposit, BgmaxError, BgmaxPayment, ExtraReference

DATA = Path(__file__).parent.parent / "data" / "bankgirot"
OCR_SAMPLE = DATA / "bgmax_sample_ocr_check_length.txt"
AUTOGIRO_SAMPLE = DATA / "autogiro_payments_in_bgmax_format.txt"


def sample_lines(path: Path = OCR_SAMPLE) -> list[str]:
    """The sample's records as text (line ends removed), to edit one and reassemble."""
    return path.read_bytes().decode("iso-8859-1").split("\r\n")[:-1]


def assemble(lines: list[str], end: str = "\r\n") -> bytes:
    return "".join(line + end for line in lines).encode("iso-8859-1")


def put(line: str, position: int, text: str) -> str:
    """``line`` with ``text`` written from 1-based ``position``."""
    line = line.ljust(80)
    return line[: position - 1] + text + line[position - 1 + len(text) :]


def error_of(data: bytes) -> BgmaxError:
    with pytest.raises(BgmaxError) as caught:
        bgmax.parse(data)
    return caught.value


# --- the OCR example file ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ocr_file() -> bgmax.BgmaxFile:
    return bgmax.parse(OCR_SAMPLE.read_bytes())


def test_ocr_sample_header_and_totals(ocr_file: bgmax.BgmaxFile) -> None:
    header = ocr_file.header
    assert header.version == "01"
    assert header.created == datetime(2004, 5, 25, 17, 30, 35, 10331)  # 20040525173035010331
    assert header.test is False  # 'P' at position 45
    assert header.line == 1
    # TK70: 6 payments, 1 deduction, 6 extra references, 2 deposits
    assert (
        ocr_file.payment_count,
        ocr_file.deduction_count,
        ocr_file.extra_reference_count,
        ocr_file.deposit_count,
    ) == (6, 1, 6, 2)
    assert len(ocr_file.deposits) == 2


def test_ocr_sample_deposits(ocr_file: bgmax.BgmaxFile) -> None:
    first, second = ocr_file.deposits
    for deposit in (first, second):
        assert deposit.payee_bankgiro == "0009912346"
        assert deposit.payee_bankgiro_number == "991-2346"
        assert deposit.payee_plusgiro is None
        assert deposit.currency == "SEK"
        assert deposit.account == "00000000000000000005841000001009823"
        assert deposit.date == date(2004, 5, 25)
        assert deposit.deposit_type == ""
    assert (first.deposit_serial, first.amount, first.count, first.line) == ("00074", 190000, 3, 23)
    assert (second.deposit_serial, second.amount, second.count, second.line) == ("00075", 800000, 4, 49)
    # The TK15 amount is payments minus deductions: 1000.00 - 500.00 + 1400.00 = 1900.00
    assert [p.amount for p in first.payments] == [100000, 50000, 140000]
    assert [p.kind for p in first.payments] == ["payment", "deduction", "payment"]
    assert first.amount == 100000 - 50000 + 140000
    # and the count is TK20 + TK21 (the four TK22 records are not counted)
    assert first.count == len(first.payments) == 3
    assert second.amount == 110000 + 120000 + 70000 + 500000


def at_kalles(payment: BgmaxPayment) -> BgmaxPayment:
    """``payment`` with the TK26-29 records of "Kalles Plåt AB" as the example file has them."""
    return replace(
        payment,
        payer_name="Kalles Plåt AB",
        payer_address="Storgatan 2",
        payer_postcode="12345",
        payer_city="Storåker",
        payer_country=None,
        payer_country_code=None,
        payer_org_number="005500001234",
    )


def test_ocr_sample_first_deposit_payments(ocr_file: bgmax.BgmaxFile) -> None:
    ocr_payment, deduction, several = ocr_file.deposits[0].payments
    assert ocr_payment == at_kalles(
        BgmaxPayment(
            kind="payment",
            payer_bankgiro="0003783511",
            reference="655969",  # right-aligned OCR in 13-37
            amount=100000,
            reference_code=2,
            channel=2,
            bgc_serial="000000000010",
            has_image=False,
        )
    )
    assert ocr_payment.line == 3
    assert deduction == at_kalles(
        BgmaxPayment(
            kind="deduction",
            payer_bankgiro="0003783511",
            reference="89853",
            amount=50000,  # positive in the file; the kind says it is deducted
            reference_code=3,
            channel=2,
            bgc_serial="000230000111",
            has_image=False,
            deduction_code=0,
        )
    )
    assert deduction.line == 8
    assert deduction.signed_amount == -50000
    assert several.reference == "657866 658765 657767"
    assert (several.amount, several.reference_code, several.channel) == (140000, 3, 2)
    assert several.bgc_serial == "000000000014"
    assert several.extra_references == (
        ExtraReference("657866", 0, 2),
        ExtraReference("658765", 0, 2),
        ExtraReference("657767", 0, 2),
        ExtraReference("657965", 0, 2),
    )
    assert [extra.line for extra in several.extra_references] == [14, 15, 16, 17]
    assert several.free_text == ("Betalning med extra refnr 657965",)
    assert several.payer_name == "Kalles Plåt AB"
    assert several.payer_org_number == "005500001234"


def test_ocr_sample_second_deposit_payments(ocr_file: bgmax.BgmaxFile) -> None:
    olle, no_reference, berit, kalle = ocr_file.deposits[1].payments
    assert (olle.payer_bankgiro, olle.reference, olle.amount, olle.reference_code, olle.channel) == (
        "0009701233",
        "650861",
        110000,
        2,
        1,  # e-payment
    )
    assert (olle.bgc_serial, olle.has_image) == ("000000000012", False)
    assert (olle.payer_name, olle.payer_address, olle.payer_postcode) == ("Olles färg AB", "Lillagatan 3", "12345")
    assert (olle.payer_city, olle.payer_org_number) == ("Storåker", "005500004322")

    # paper slip (channel 3) without reference, with an image of the slip
    assert (no_reference.reference, no_reference.reference_code, no_reference.channel) == ("", 1, 3)
    assert (no_reference.amount, no_reference.bgc_serial, no_reference.has_image) == (120000, "000000000013", True)
    assert no_reference.payer_name == "Berits Garn"
    assert no_reference.payer_address == "Storgatan 10"
    assert no_reference.payer_org_number == "005500002222"

    assert (berit.reference, berit.amount, berit.reference_code, berit.channel) == ("659763", 70000, 2, 3)
    assert (berit.bgc_serial, berit.has_image) == ("000000000016", True)

    assert (kalle.reference, kalle.amount, kalle.reference_code, kalle.bgc_serial) == (
        "658260",
        500000,
        2,
        "000000000016",
    )
    assert kalle.extra_references == (ExtraReference("658369", 0, 2), ExtraReference("658468", 0, 2))
    assert kalle.free_text == ("Faktura 658369", "Faktura 658468")  # " Faktura ..." in the file, stripped
    assert all(p.deduction_code is None for p in ocr_file.deposits[1].payments)


# --- the autogiro payments in BGMax format ----------------------------------------------------


def test_autogiro_sample() -> None:
    file = bgmax.parse(AUTOGIRO_SAMPLE.read_bytes())
    assert file.header.created == datetime(2012, 9, 14, 17, 30, 35, 10331)
    assert file.header.test is False
    assert (file.payment_count, file.deduction_count, file.extra_reference_count, file.deposit_count) == (4, 0, 0, 1)
    (deposit,) = file.deposits
    assert deposit.payee_bankgiro_number == "991-2346"
    assert deposit.date == date(2009, 6, 3)  # earlier than the file's timestamp (2012), as published
    assert (deposit.deposit_serial, deposit.amount, deposit.count) == ("00036", 70000, 4)
    rows = [(p.payer_bankgiro, p.reference, p.amount, p.reference_code, p.channel) for p in deposit.payments]
    assert rows == [
        ("0003783511", "65598", 10000, 2, 4),
        ("0000000000", "84629", 20000, 2, 4),  # no payer bankgiro: zeros
        ("0000000000", "39857", 30000, 2, 4),
        ("0037835121", "644591", 10000, 2, 4),
    ]
    # autogiro: no BGC serial and no image flag (blanks)
    assert all(p.bgc_serial == " " * 12 and not p.has_image for p in deposit.payments)
    first, second, _, last = deposit.payments
    assert (first.payer_name, first.payer_org_number) == ("Kalles Plåt AB", "005500001234")
    assert second.payer_name is None and second.payer_address is None and second.payer_org_number is None
    assert (last.payer_name, last.payer_address, last.payer_postcode, last.payer_city, last.payer_org_number) == (
        "Larssons Delikatesser",
        "Vingbyvägen 59",
        "12345",
        "Storåker",
        "005500001233",
    )
    assert [p.line for p in deposit.payments] == [3, 8, 9, 10]


# --- writing and reading back ------------------------------------------------------------------


def normalised_records(data: bytes) -> list[str]:
    """Each record padded to 80; TK25 free text compared without its outer blanks."""
    records = []
    for line in data.decode("iso-8859-1").split("\r\n"):
        if not line:
            continue
        line = line.ljust(80)
        if line.startswith("25"):
            line = "25" + line[2:52].strip(" ").ljust(50) + line[52:]
        records.append(line)
    return records


@pytest.mark.parametrize("path", [OCR_SAMPLE, AUTOGIRO_SAMPLE], ids=lambda p: p.name)
def test_samples_write_back(path: Path) -> None:
    original = path.read_bytes()
    parsed = bgmax.parse(original)
    written = bgmax.write(parsed)
    assert bgmax.parse(written) == parsed
    assert normalised_records(written) == normalised_records(original)
    lines = written.split(b"\r\n")
    assert lines[-1] == b""
    assert all(len(line) == 80 for line in lines[:-1])


def test_autogiro_sample_writes_back_byte_for_byte_once_padded() -> None:
    original = AUTOGIRO_SAMPLE.read_bytes()
    padded = assemble([line.ljust(80) for line in sample_lines(AUTOGIRO_SAMPLE)])
    assert bgmax.write(bgmax.parse(original)) == padded


def test_write_of_a_constructed_file() -> None:
    payment = BgmaxPayment(
        kind="payment",
        payer_bankgiro="0000000000",
        reference="1234567897",
        amount=49900,
        reference_code=2,
        channel=1,
        bgc_serial="000000000001",
        has_image=False,
        payer_name="Åsa Öberg",
    )
    deposit = BgmaxDeposit(
        payee_bankgiro="0050501055",
        payee_plusgiro=None,
        currency="SEK",
        payments=(payment,),
        account="12345678901",
        date=date(2024, 3, 1),
        deposit_serial="00001",
        amount=49900,
        count=1,
    )
    file = bgmax.file_of(datetime(2024, 3, 1, 6, 0, 0, 123456), [deposit], test=True)
    assert (file.payment_count, file.deduction_count, file.extra_reference_count, file.deposit_count) == (1, 0, 0, 1)
    data = bgmax.write(file)
    records = data.decode("iso-8859-1").split("\r\n")
    assert records[0] == "01BGMAX               0120240301060000123456T".ljust(80)
    assert records[1] == "050050501055          SEK".ljust(80)
    assert records[2] == "200000000000               1234567897000000000000049900210000000000010".ljust(80)
    assert records[3] == "26Åsa Öberg".ljust(80)
    assert records[4] == "15" + "12345678901".rjust(35) + "2024030100001000000000000049900SEK00000001 "
    assert records[5] == "7000000001000000000000000000000001".ljust(80)
    assert "Åsa".encode("iso-8859-1") in data
    parsed = bgmax.parse(data)
    assert parsed == file
    assert parsed.header.test is True
    assert deposit.payee_bankgiro_number == "5050-1055"


def test_long_names_use_the_extra_name_field() -> None:
    name = "Aktiebolaget Med Ett Mycket Långt Namn I Norra Storåker"  # 55 characters
    lines = sample_lines()
    lines[3] = "26" + name[:33].ljust(35) + name[34:]
    file = bgmax.parse(assemble(lines))
    assert file.deposits[0].payments[0].payer_name == name
    assert bgmax.parse(bgmax.write(file)) == file


def test_negative_extra_reference_is_tk23() -> None:
    lines = sample_lines()
    lines[13] = "23" + lines[13][2:37] + "000000000000012500" + lines[13][55:]
    file = bgmax.parse(assemble(lines))
    assert file.deposits[0].payments[2].extra_references[0] == ExtraReference("657866", -12500, 2)
    written = bgmax.write(file)
    assert written.decode("iso-8859-1").split("\r\n")[13].startswith("230003783511")
    assert bgmax.parse(written) == file


# --- what the reader tolerates -----------------------------------------------------------------


def test_line_ends_short_lines_and_trailing_empty_lines() -> None:
    expected = bgmax.parse(OCR_SAMPLE.read_bytes())
    lines = sample_lines()
    assert bgmax.parse(assemble(lines, "\n")) == expected
    assert bgmax.parse(assemble(lines)[:-2]) == expected  # no line end after TK70
    assert bgmax.parse(assemble(lines) + b"\r\n\r\n   \r\n") == expected
    assert bgmax.parse(assemble([line.rstrip(" ") for line in lines])) == expected


def test_unknown_record_types_are_ignored() -> None:
    expected = bgmax.parse(OCR_SAMPLE.read_bytes())
    lines = sample_lines()
    lines.insert(3, "99 a record type the manual does not describe")
    lines.insert(1, "30")
    assert bgmax.parse(assemble(lines)) == expected


def test_streaming_reads_an_open_file() -> None:
    with OCR_SAMPLE.open("rb") as lines:
        deposits = list(bgmax.iter_deposits(lines))
    assert [deposit.amount for deposit in deposits] == [190000, 800000]
    with OCR_SAMPLE.open("rb") as lines:
        header, deposit_count, payment_count = bgmax.validate(lines)
    assert header.created == datetime(2004, 5, 25, 17, 30, 35, 10331)
    assert (deposit_count, payment_count) == (2, 7)  # 6 TK20 + 1 TK21
    with AUTOGIRO_SAMPLE.open("rb") as lines:
        assert bgmax.read_header(lines).created.year == 2012


def test_streaming_checks_the_totals_when_the_stream_ends() -> None:
    lines = sample_lines()
    lines[-1] = put(lines[-1], 3, "00000007")
    stream = bgmax.iter_deposits(assemble(lines).splitlines(keepends=True))
    assert next(stream).amount == 190000
    assert next(stream).amount == 800000
    with pytest.raises(BgmaxError) as caught:
        next(stream)
    assert (caught.value.line, caught.value.field) == (50, "TK70 number of TK20 payments (3-10)")
    with pytest.raises(BgmaxError):
        bgmax.validate(assemble(lines).splitlines())


# --- what the reader rejects -------------------------------------------------------------------


def test_error_message_line_and_field() -> None:
    error = BgmaxError("must be 18 digits", line=3, field="TK20 amount (38-55)")
    assert str(error) == "line 3, TK20 amount (38-55): must be 18 digits"
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.line, copy.field) == (str(error), 3, "TK20 amount (38-55)")


def edited(index: int, position: int, text: str) -> bytes:
    lines = sample_lines()
    lines[index] = put(lines[index], position, text)
    return assemble(lines)


def without(*indexes: int) -> bytes:
    return assemble([line for number, line in enumerate(sample_lines()) if number not in indexes])


def inserted(index: int, record: str) -> bytes:
    lines = sample_lines()
    lines.insert(index, record)
    return assemble(lines)


CASES = {
    # truncated: the TK70 is missing, or the file stops inside a deposit
    "truncated": (without(49), 50, "TK70 end record"),
    "truncated inside a deposit": (assemble(sample_lines()[:30]), 31, "TK70 end record"),
    "empty file": (b"", 1, "TK01 start record"),
    # record length
    "record longer than 80": (edited(2, 81, "X"), 3, "record length"),
    "tab inside a record": (edited(4, 20, "\t"), 5, "record"),
    "stray carriage return": (edited(4, 20, "\r"), 5, "record"),
    "empty line inside": (inserted(5, ""), 6, "record"),
    # letters in amounts and counts
    "letter in TK20 amount": (edited(2, 50, "1O"), 3, "TK20 amount (38-55)"),
    "blank in TK21 amount": (edited(7, 38, " "), 8, "TK21 amount (38-55)"),
    "letter in TK22 amount": (edited(13, 55, "x"), 14, "TK22 amount (38-55)"),
    "letter in TK15 amount": (edited(22, 51, "A"), 23, "TK15 amount (51-68)"),
    "letter in TK15 count": (edited(22, 79, "Z"), 23, "TK15 number of payments (72-79)"),
    "letter in TK70 count": (edited(49, 20, "y"), 50, "TK70 number of TK22/TK23 extra references (19-26)"),
    "sign in amount": (edited(2, 38, "+"), 3, "TK20 amount (38-55)"),
    # counts that do not add up
    "TK70 payments": (edited(49, 3, "00000005"), 50, "TK70 number of TK20 payments (3-10)"),
    "TK70 deductions": (edited(49, 11, "00000000"), 50, "TK70 number of TK21 deductions (11-18)"),
    "TK70 extra references": (edited(49, 19, "00000004"), 50, "TK70 number of TK22/TK23 extra references (19-26)"),
    "TK70 deposits": (edited(49, 27, "00000003"), 50, "TK70 number of TK15 deposits (27-34)"),
    "TK15 count": (edited(22, 72, "00000007"), 23, "TK15 number of payments (72-79)"),
    # deposit sums: payments minus deductions
    "TK15 amount": (edited(48, 51, "000000000000800001"), 49, "TK15 amount (51-68)"),
    "deduction added instead of subtracted": (edited(22, 51, "000000000000290000"), 23, "TK15 amount (51-68)"),
    "payment amount changed": (edited(2, 38, "000000000000100100"), 23, "TK15 amount (51-68)"),
    # structure
    "payment outside a deposit": (inserted(23, sample_lines()[2]), 24, "TK20 record"),
    "name outside a deposit": (inserted(23, sample_lines()[3]), 24, "TK26 record"),
    "extra reference before any payment": (inserted(24, sample_lines()[13]), 25, "TK22 record"),
    "address before any payment": (inserted(24, sample_lines()[4]), 25, "TK27 record"),
    "deposit without TK15": (without(22), 23, "TK05 opening record"),
    "TK15 without TK05": (inserted(23, sample_lines()[22]), 24, "TK15 record"),
    "TK70 inside a deposit": (without(48), 49, "TK70 end record"),
    "missing TK01": (without(0), 1, "TK01 start record"),
    "second TK01": (inserted(23, sample_lines()[0]), 24, "TK01 start record"),
    "record after TK70": (assemble([*sample_lines(), sample_lines()[2]]), 51, "record"),
    "second TK26 for a payment": (inserted(4, sample_lines()[3]), 5, "TK26 record"),
    "record type not digits": (inserted(4, "2A something"), 5, "record type (1-2)"),
    # the header
    "not BGMAX": (edited(0, 3, "BGMIN"), 1, "TK01 layout name (3-22)"),
    "version": (edited(0, 23, "02"), 1, "TK01 version (23-24)"),
    "timestamp": (edited(0, 25, "20041325"), 1, "TK01 timestamp (25-44)"),
    "test flag": (edited(0, 45, "X"), 1, "TK01 test flag (45)"),
    # fields
    "no currency": (edited(1, 23, "   "), 2, "TK05 currency (23-25)"),
    "TK15 currency differs": (edited(22, 69, "EUR"), 23, "TK15 currency (69-71)"),
    "payee bankgiro": (edited(1, 3, "00099123A6"), 2, "TK05 payee bankgiro (3-12)"),
    "payer bankgiro": (edited(2, 3, "   3783511"), 3, "TK20 payer bankgiro (3-12)"),
    "reference code": (edited(2, 56, "7"), 3, "TK20 reference code (56)"),
    "channel": (edited(2, 57, "0"), 3, "TK20 channel (57)"),
    "image flag": (edited(2, 70, "J"), 3, "TK20 image flag (70)"),
    "deduction code": (edited(7, 71, "x"), 8, "TK21 deduction code (71)"),
    "TK22 reference code": (edited(13, 56, " "), 14, "TK22 reference code (56)"),
    "deposit date": (edited(22, 38, "20040230"), 23, "TK15 payment date (38-45)"),
}


@pytest.mark.parametrize(("data", "line", "field"), CASES.values(), ids=CASES.keys())
def test_bad_input(data: bytes, line: int, field: str) -> None:
    error = error_of(data)
    assert (error.line, error.field) == (line, field), str(error)
    assert str(error).startswith(f"line {line}, {field}: ")


def test_bad_input_streaming_names_the_same_line() -> None:
    data = edited(2, 50, "1O")
    with pytest.raises(BgmaxError) as caught:
        bgmax.validate(data.splitlines(keepends=True))
    assert (caught.value.line, caught.value.field) == (3, "TK20 amount (38-55)")


def test_read_header_rejects_a_file_that_is_not_bgmax() -> None:
    with pytest.raises(BgmaxError) as caught:
        bgmax.read_header([b"01AUTOGIRO"])
    assert caught.value.field == "TK01 layout name (3-22)"
    with pytest.raises(BgmaxError):
        bgmax.read_header([])


# --- what the writer rejects -------------------------------------------------------------------


def sample_file() -> bgmax.BgmaxFile:
    return bgmax.parse(OCR_SAMPLE.read_bytes())


def with_first_payment(**changes: Any) -> bgmax.BgmaxFile:
    file = sample_file()
    first = file.deposits[0]
    payments = (replace(first.payments[0], **changes), *first.payments[1:])
    return replace(file, deposits=(replace(first, payments=payments), *file.deposits[1:]))


WRITE_CASES = {
    "amount not a sum": (with_first_payment(amount=100001), "TK15 amount (51-68)"),
    "reference too long": (with_first_payment(reference="1" * 26), "TK20 reference (13-37)"),
    "reference with outer blanks": (with_first_payment(reference=" 1"), "TK20 reference (13-37)"),
    "name outside ISO-8859-1": (with_first_payment(payer_name="Łódź AB"), "TK26 name (3-37, 38-72)"),
    "name with a line break": (with_first_payment(payer_name="A\r\nB"), "TK26 name (3-37, 38-72)"),
    "name too long": (with_first_payment(payer_name="x" * 40), "TK26 name (3-37, 38-72)"),
    "empty address": (with_first_payment(payer_address=""), "TK27 address (3-37)"),
    "channel": (with_first_payment(channel=5), "TK20 channel (57)"),
    "serial": (with_first_payment(bgc_serial="1"), "TK20 BGC serial (58-69)"),
    "deduction code on a payment": (with_first_payment(deduction_code=1), "TK20 deduction code (71)"),
    "kind": (with_first_payment(kind="refund"), "payment kind"),
}


@pytest.mark.parametrize(("file", "field"), WRITE_CASES.values(), ids=WRITE_CASES.keys())
def test_write_rejects_what_would_not_read_back(file: bgmax.BgmaxFile, field: str) -> None:
    with pytest.raises(BgmaxError) as caught:
        bgmax.write(file)
    assert caught.value.field == field, str(caught.value)


def test_write_rejects_wrong_totals_and_timestamps() -> None:
    file = sample_file()
    with pytest.raises(BgmaxError) as caught:
        bgmax.write(replace(file, payment_count=7))
    assert caught.value.field == "TK70 number of TK20 payments (3-10)"
    with pytest.raises(BgmaxError) as caught:
        bgmax.write(replace(file, header=replace(file.header, created=datetime(2024, 1, 1).astimezone())))
    assert caught.value.field == "TK01 timestamp (25-44)"
