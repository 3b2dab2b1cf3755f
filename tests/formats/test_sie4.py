"""SIE type 4 files: writing and reading.

Source: SIE-gruppen, "SIE filformat, utgåva 4B" (2008-09-30, sie.se), the spec of SIE 1-4:
records are lines that start with a label; fields are separated by blanks; a field with
blanks is quoted and a quote inside it is written with a backslash before it; a voucher is
``#VER serie vernr verdatum vertext`` with its ``#TRANS kontonr {objektlista} belopp
transdat transtext`` lines between ``{`` and ``}``; amounts have a decimal point and at most
two decimals; dates are YYYYMMDD; ``#FORMAT PC8`` means IBM PC 8-bit ASCII (code page 437);
the transactions of a voucher sum to zero; ``#RTRANS``/``#BTRANS`` (added/removed
transactions, 4B) come with a ``#TRANS`` copy for older readers; unknown labels are skipped.
Code page 437: IBM's "Code Page 00437" table (å 0x86, ä 0x84, ö 0x94, Å 0x8F, Ä 0x8E,
Ö 0x99, é 0x82, no-break space 0xFF).
"""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvitt.formats import sie4
from kvitt.formats.sie4 import Company, SieError, SieFile, Transaction, Voucher

COMPANY = Company(
    program="Kvitt",
    program_version="0.1.0",
    generated=date(2026, 1, 15),
    name="Norrsken Telekom AB",
    org_number="5560360793",
    fiscal_year_start=date(2025, 1, 1),
    fiscal_year_end=date(2025, 12, 31),
)
ACCOUNTS = {"1510": "Kundfordringar", "1930": "Företagskonto", "2611": "Utgående moms 25 %", "3001": "Försäljning"}


def invoice_voucher(number: int = 1, text: str = "Faktura 1") -> Voucher:
    return Voucher(
        "A",
        number,
        date(2025, 3, 1),
        text,
        (Transaction("1510", 39500), Transaction("3001", -31600), Transaction("2611", -7900)),
    )


def lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


# --- writing ---------------------------------------------------------------------------------


def test_a_whole_file_byte_for_byte() -> None:
    payment = Voucher(
        "A", 2, date(2025, 3, 20), "Betalning faktura 1", (Transaction("1930", 39500), Transaction("1510", -39500))
    )
    data = sie4.write(SieFile(COMPANY, ACCOUNTS, (invoice_voucher(), payment)))
    assert lines(data) == [
        b"#FLAGGA 0",
        b"#FORMAT PC8",
        b"#SIETYP 4",
        b'#PROGRAM "Kvitt" 0.1.0',
        b"#GEN 20260115",
        b'#FNAMN "Norrsken Telekom AB"',
        b"#ORGNR 556036-0793",
        b"#RAR 0 20250101 20251231",
        b"#KPTYP EUBAS97",
        b"#VALUTA SEK",
        b'#KONTO 1510 "Kundfordringar"',
        b'#KONTO 1930 "F\x94retagskonto"',
        b'#KONTO 2611 "Utg\x86ende moms 25 %"',
        b'#KONTO 3001 "F\x94rs\x84ljning"',
        b'#VER A 1 20250301 "Faktura 1"',
        b"{",
        b"#TRANS 1510 {} 395.00",
        b"#TRANS 3001 {} -316.00",
        b"#TRANS 2611 {} -79.00",
        b"}",
        b'#VER A 2 20250320 "Betalning faktura 1"',
        b"{",
        b"#TRANS 1930 {} 395.00",
        b"#TRANS 1510 {} -395.00",
        b"}",
    ]
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends with CR LF, no bare LF


def test_swedish_letters_are_code_page_437_bytes() -> None:
    data = sie4.write(SieFile(COMPANY, {"1510": "å ä ö Å Ä Ö é"}, ()))
    assert b'#KONTO 1510 "\x86 \x84 \x94 \x8f \x8e \x99 \x82"\r\n' in data
    # Not Latin-1/Windows-1252 (which many programs wrongly write) nor UTF-8.
    assert "å".encode("latin-1") not in data and "å".encode() not in data
    assert sie4.read(data).accounts == {"1510": "å ä ö Å Ä Ö é"}


def test_a_decomposed_letter_is_composed_before_encoding() -> None:
    decomposed = unicodedata.normalize("NFD", "Café Åre")
    assert decomposed != "Café Åre"
    data = sie4.write(SieFile(COMPANY, {"1510": decomposed}, ()))
    assert b'"Caf\x82 \x8fre"' in data


def test_what_code_page_437_cannot_hold_becomes_a_question_mark_and_controls_a_space() -> None:
    voucher = invoice_voucher(text="Betalning 100 € via Łódź\tbank\r\nref")
    data = sie4.write(SieFile(COMPANY, ACCOUNTS, (voucher,)))
    assert b'"Betalning 100 ? via ?\xa2d? bank  ref"' in data
    assert sie4.read(data).vouchers[0].text == "Betalning 100 ? via ?ód? bank  ref"


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('Kalle "Kula" Svensson', rb'"Kalle \"Kula\" Svensson"'),
        ('"', rb'"\""'),
        ("", b'""'),
        ("C:\\temp", b'"C:\\temp"'),  # a lone backslash is written as is
        ("slut\\", b'"slut\\\\"'),  # before the closing quote it is doubled
        ('a\\"b', b'"a\\\\\\"b"'),  # backslash then quote: \\ and \"
        ("a\\\\b", b'"a\\\\\\b"'),  # two backslashes: the first doubled
        ("{ } #VER", b'"{ } #VER"'),
    ],
)
def test_quotes_and_backslashes_are_escaped(text: str, written: bytes) -> None:
    data = sie4.write(SieFile(COMPANY, {"1510": text}, ()))
    assert b"#KONTO 1510 " + written + b"\r\n" in data
    assert sie4.read(data).accounts["1510"] == text


@pytest.mark.parametrize(
    ("ore", "kronor"),
    [(0, "0.00"), (1, "0.01"), (-1, "-0.01"), (39500, "395.00"), (-7900, "-79.00"), (123456789, "1234567.89")],
)
def test_amounts_are_kronor_with_a_decimal_point(ore: int, kronor: str) -> None:
    assert sie4.format_amount(ore) == kronor
    assert sie4.parse_amount(kronor) == ore


def test_negative_amounts_in_a_credit_note() -> None:
    note = Voucher(
        "A",
        3,
        date(2025, 4, 1),
        "Kreditfaktura 3",
        (Transaction("1510", -39500), Transaction("3001", 31600), Transaction("2611", 7900)),
    )
    data = sie4.write(SieFile(COMPANY, ACCOUNTS, (note,)))
    assert b"#TRANS 1510 {} -395.00\r\n#TRANS 3001 {} 316.00\r\n#TRANS 2611 {} 79.00\r\n" in data
    assert sie4.read(data).vouchers == (note,)


def test_a_transaction_text_goes_after_an_empty_transaction_date() -> None:
    voucher = Voucher("A", 1, date(2025, 3, 1), "x", (Transaction("1930", 100, "OCR 123"), Transaction("1510", -100)))
    data = sie4.write(SieFile(COMPANY, ACCOUNTS, (voucher,)))
    assert b'#TRANS 1930 {} 1.00 "" "OCR 123"\r\n' in data


def test_a_voucher_that_does_not_balance_is_refused() -> None:
    voucher = Voucher("A", 1, date(2025, 3, 1), "x", (Transaction("1510", 39500), Transaction("3001", -39400)))
    with pytest.raises(ValueError, match=r"voucher A1 does not balance: .* 1\.00"):
        sie4.write(SieFile(COMPANY, ACCOUNTS, (voucher,)))


@pytest.mark.parametrize(
    ("sie", "message"),
    [
        (SieFile(COMPANY, ACCOUNTS, (Voucher("A", 1, date(2025, 1, 1), "x", ()),)), "has no transactions"),
        (
            SieFile(COMPANY, {"1510": "x"}, (invoice_voucher(),)),
            "uses account '3001', which has no #KONTO name",
        ),
        (SieFile(COMPANY, {"15A0": "x"}, ()), "account '15A0' is not a number"),
        (SieFile(Company("K", "1", date(2025, 1, 1), "X", org_number="55603607"), {}, ()), "not NNNNNN-NNNN"),
        (
            SieFile(Company("K", "1", date(2025, 1, 1), "X", fiscal_year_start=date(2025, 1, 1)), {}, ()),
            "needs both",
        ),
        (
            SieFile(
                Company(
                    "K",
                    "1",
                    date(2025, 1, 1),
                    "X",
                    fiscal_year_start=date(2025, 1, 2),
                    fiscal_year_end=date(2025, 1, 1),
                ),
                {},
                (),
            ),
            "ends",
        ),
    ],
)
def test_what_cannot_be_written_is_refused(sie: SieFile, message: str) -> None:
    with pytest.raises(SieError, match=message):
        sie4.write(sie)


def test_optional_identification_records_are_left_out() -> None:
    company = Company("Kvitt", "0.1.0", date(2026, 1, 1), "Enskild firma", chart_type=None)
    data = sie4.write(SieFile(company, {}, ()))
    assert b"#ORGNR" not in data and b"#RAR" not in data and b"#KPTYP" not in data
    assert sie4.read(data).company == company


# --- reading files written elsewhere ---------------------------------------------------------

FOREIGN = """#FLAGGA 0
#PROGRAM "Annat Program" 7.2
#FORMAT PC8
#GEN 20250105 "Anna"
#SIETYP 4
#FNAMN "Fj\x84llstr\x94m Energi AB"
#ORGNR 556016-0680
#ADRESS "Anna" "Storgatan 1" "831 30 \x99stersund" "063-12 34 56"
#RAR 0 20240701 20250630
#RAR -1 20230701 20240630
#KPTYP EUBAS97
#KONTO 1510 Kundfordringar
#KONTO 1930 "F\x94retagskonto"
#KONTO 3001 "F\x94rs\x84ljning 25 %"
#KONTO 2611 "Utg\x86ende moms"
#SRU 1510 7251
#IB 0 1510 1000.00
#UB 0 1510 2000.00
#VER B 12 20250102 "Faktura \\"stor\\" kund" 20250103 Anna
{
\t#TRANS 1510 {} 1250 "" "" 0 Anna
\t#TRANS 3001 {1 "100" 6 "P1"} -1000.00 20250102 "Sv\x84rt"
\t#RTRANS 2611 {} -250.00
\t#TRANS 2611 {} -250.00
\t#BTRANS 2611 {} -249.50
}
#VER "" "" 20250110 ""
{
#TRANS 1930 {} 0.5
#TRANS 1510 {} -0.50
}
"""


def foreign(text: str = FOREIGN) -> bytes:
    return text.replace("\n", "\r\n").encode("latin-1")  # the \x.. above are already CP437 byte values


def test_a_file_from_another_program_is_read() -> None:
    sie = sie4.read(foreign())
    assert sie.company == Company(
        program="Annat Program",
        program_version="7.2",
        generated=date(2025, 1, 5),
        name="Fjällström Energi AB",
        org_number="556016-0680",
        fiscal_year_start=date(2024, 7, 1),
        fiscal_year_end=date(2025, 6, 30),
        chart_type="EUBAS97",
    )
    assert sie.accounts == {
        "1510": "Kundfordringar",
        "1930": "Företagskonto",
        "3001": "Försäljning 25 %",
        "2611": "Utgående moms",
    }
    assert sie.vouchers == (
        Voucher(
            "B",
            12,
            date(2025, 1, 2),
            'Faktura "stor" kund',
            (Transaction("1510", 125000), Transaction("3001", -100000, "Svärt"), Transaction("2611", -25000)),
        ),
        Voucher("", None, date(2025, 1, 10), "", (Transaction("1930", 50), Transaction("1510", -50))),
    )
    # LF alone ends lines as well.
    assert sie4.read(FOREIGN.encode("latin-1")) == sie


def test_a_no_break_space_is_not_a_field_separator() -> None:
    sie = sie4.read(foreign(FOREIGN.replace("#KONTO 1510 Kundfordringar", "#KONTO 1510 A\xffB")))
    assert sie.accounts["1510"] == "A\u00a0B"


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("-0.50", "-.50x"), 30, "amount '-.50x' is not kronor"),
        (("-0.50", "-0.505"), 30, "at most two decimals"),
        (("-0.50", "-0,50"), 30, "not kronor"),
        (("-0.50", "-0.40"), 27, "does not balance: .* 0.10"),
        (("20250110", "20250231"), 27, "does not exist"),
        (("20250110", "2025-01-10"), 27, "not YYYYMMDD"),
        (('#VER "" ""', '#VER "" "x"'), 27, "voucher number 'x'"),
        (('"Sv\x84rt"', '"Sv\x84rt'), 22, "quoted field is not closed"),
        (('{1 "100" 6 "P1"}', '{1 "100" 6 "P1"'), 22, "object list is not closed"),
        (("#TRANS 1930 {} 0.5", "#TRANS 1930 0.5"), 29, r"needs an object list \({}\)"),
        (("#TRANS 1930 {} 0.5", "#TRANS"), 29, "#TRANS has no account"),
        (("#UB 0 1510 2000.00", "#TRANS 1510 {} 1.00"), 18, "#TRANS outside a voucher"),
        (("#UB 0 1510 2000.00", "}"), 18, "'}' outside a voucher"),
        (("#UB 0 1510 2000.00", "KONTO 1510"), 18, "not a SIE record"),
        (("{\n#TRANS 1930", "#TRANS 1930"), 28, "must be followed by a line with '{'"),
        (("\t#RTRANS 2611 {} -250.00", "#KONTO 1 x"), 23, "#KONTO inside a voucher"),
        (("-0.50\n}", "-0.50"), 27, "not closed with '}'"),
        (("#SIETYP 4", "#SIETYP 3"), None, "not a SIE type 4 file"),
        (("#FORMAT PC8", "#FORMAT UTF8"), None, "only #FORMAT PC8"),
        (('#FNAMN "Fj\x84llstr\x94m Energi AB"', "#FNAMN"), None, "#FNAMN has no company name"),
        (('#GEN 20250105 "Anna"', ""), None, "the file has no #GEN"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(change: tuple[str, str], line: int | None, message: str) -> None:
    text = FOREIGN.replace(*change)
    assert text != FOREIGN
    with pytest.raises(SieError, match=message) as raised:
        sie4.read(foreign(text))
    assert raised.value.line == line
    if line is not None:
        assert str(raised.value).startswith(f"line {line}: ")


def test_the_reader_takes_a_backslash_before_other_characters_literally() -> None:
    data = foreign(FOREIGN.replace("#KONTO 1510 Kundfordringar", r'#KONTO 1510 "C:\temp\\x\""'))
    assert sie4.read(data).accounts["1510"] == 'C:\\temp\\x"'


# --- round trip ------------------------------------------------------------------------------

# Every character code page 437 gives a glyph to, except the control characters.
CP437_TEXT = [bytes([b]).decode(sie4.ENCODING) for b in range(32, 256) if b != 127]
texts = st.text(alphabet=CP437_TEXT, max_size=30)
non_empty_texts = st.text(alphabet=CP437_TEXT, min_size=1, max_size=30)
account_numbers = st.text(alphabet="0123456789", min_size=1, max_size=6)
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


def test_the_round_trip_alphabet_is_stable_under_nfc() -> None:
    assert all(unicodedata.normalize("NFC", ch) == ch for ch in CP437_TEXT)
    assert len(CP437_TEXT) == 223


@st.composite
def companies(draw: st.DrawFn) -> Company:
    year = draw(st.none() | st.tuples(dates, dates).map(sorted))
    org = draw(st.none() | st.from_regex(r"\A[0-9]{6}-[0-9]{4}\Z"))
    return Company(
        program=draw(texts),
        program_version=draw(texts),
        generated=draw(dates),
        name=draw(texts),
        org_number=org,
        fiscal_year_start=year[0] if year else None,
        fiscal_year_end=year[1] if year else None,
        chart_type=draw(st.none() | non_empty_texts),
        currency=draw(texts),
    )


@st.composite
def sie_files(draw: st.DrawFn) -> SieFile:
    accounts = draw(st.dictionaries(account_numbers, texts, min_size=1, max_size=8))
    numbers = sorted(accounts)
    vouchers = []
    for _ in range(draw(st.integers(0, 6))):
        amounts = draw(st.lists(st.integers(-(10**13), 10**13), min_size=0, max_size=6))
        amounts.append(-sum(amounts))  # balanced; a lone transaction is 0.00
        transactions = tuple(
            Transaction(draw(st.sampled_from(numbers)), amount, draw(texts))
            for amount in draw(st.permutations(amounts))
        )
        vouchers.append(
            Voucher(
                series=draw(texts),
                number=draw(st.none() | st.integers(0, 10**9)),
                date=draw(dates),
                text=draw(texts),
                transactions=transactions,
            )
        )
    return SieFile(draw(companies()), accounts, tuple(vouchers))


@settings(max_examples=300)
@given(sie_files())
def test_write_then_read_gives_the_same_data(sie: SieFile) -> None:
    data = sie4.write(sie)
    assert data.decode(sie4.ENCODING).count("\r\n") == len(lines(data))
    assert sie4.read(data) == sie


@given(st.integers(-(10**15), 10**15))
def test_amounts_round_trip(ore: int) -> None:
    assert sie4.parse_amount(sie4.format_amount(ore)) == ore


@given(st.text(max_size=40))
def test_any_text_is_written_as_one_field_that_reads_back_as_its_cp437_form(text: str) -> None:
    data = sie4.write(SieFile(COMPANY, {"1510": text}, ()))
    expected = "".join(
        " " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in unicodedata.normalize("NFC", text)
    ).encode(sie4.ENCODING, "replace")
    assert sie4.read(data).accounts["1510"] == expected.decode(sie4.ENCODING)
