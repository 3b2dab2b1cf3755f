"""Autogiro (new layout) files: every example of Bankgirot read, what Kvitt writes read back.

Sources:
- Bankgirot, "Autogiro Teknisk manual" (new layout), summarised in SWEDISH-RULES.md.
- Bankgirot's published example files, copied unchanged into tests/data/bankgirot/
  (autogiro_*.txt). The expected values below were read off those files by hand.
"""

from __future__ import annotations

import contextlib
import string
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvitt.formats import autogiro as ag
from kvitt.formats import bgmax
from kvitt.formats.autogiro import (
    AutogiroError,
    CancelMandate,
    ChangePayerNumber,
    MandateAdvice,
    MandateAdviceRecord,
    NewMandate,
    Opening,
    OrderSection,
    PaymentOrder,
    PaymentSpec,
    RejectedOrder,
    RejectedOrders,
    SpecRecord,
    SpecSection,
)

DATA = Path(__file__).parent.parent / "data" / "bankgirot"
MANDATES = DATA / "autogiro_mandates_to_bgc.txt"
PAYMENT_ORDERS = DATA / "autogiro_payment_orders_to_bgc.txt"
ADVICE = DATA / "autogiro_mandate_advice.txt"
SPEC = DATA / "autogiro_payment_spec_and_stops.txt"
REJECTED = DATA / "autogiro_rejected_payment_orders.txt"
BGMAX = DATA / "autogiro_payments_in_bgmax_format.txt"


def padded(path: Path) -> bytes:
    """The example with every record 80 characters: trailing blanks added where the published
    file leaves them out, and cut where a copy added some past 80 (line 2 of the payment orders)."""
    lines = path.read_bytes().split(b"\r\n")
    assert lines[-1] == b""
    assert all(line[80:].strip() == b"" for line in lines)
    return b"".join(line[:80].ljust(80) + b"\r\n" for line in lines[:-1])


def lines_of(path: Path) -> list[str]:
    return path.read_bytes().decode("iso-8859-1").split("\r\n")[:-1]


def assemble(lines: list[str]) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode("iso-8859-1")


# --- which file ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (MANDATES, "orders"),
        (PAYMENT_ORDERS, "orders"),
        (ADVICE, "mandate_advice"),
        (SPEC, "payment_spec"),
        (REJECTED, "rejected"),
        (BGMAX, "bgmax"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_detect_by_the_opening_record(path: Path, kind: str) -> None:
    assert ag.detect(path.read_bytes()) == kind


def test_detect_refuses_an_unknown_file() -> None:
    with pytest.raises(AutogiroError, match="line 1, opening"):
        ag.detect(b"01SOMETHING ELSE\r\n")


# --- to Bankgirot -------------------------------------------------------------------------------


def test_mandate_orders_example() -> None:
    (section,) = ag.parse_orders(MANDATES.read_bytes())
    assert section.opening == Opening(date(2008, 6, 11), "471117", "9912346")
    new = [o for o in section.orders if isinstance(o, NewMandate)]
    assert [(o.payer_number, o.account, o.id_number, o.reject) for o in new] == [
        ("101", "3300001212121212", "191212121212", False),
        ("102", "8901003232323232", "005556000521", False),  # an organisation number: 00 + 10 digits
        ("103", "5001000001000020", "196803050000", False),
        ("2222101", None, None, False),  # payer number only (the account is with Bankgirot)
        ("3331022", None, None, False),
        ("7771014", None, None, False),
        ("106", "3300001212121212", "191212121212", True),  # AV: a digital mandate turned down
        ("107", "5001000001000020", "196803050000", True),
    ]
    cancels = [o.payer_number for o in section.orders if isinstance(o, CancelMandate)]
    assert cancels == ["5551004", "4440104"]
    changes = [(o.payer_number, o.new_payer_number) for o in section.orders if isinstance(o, ChangePayerNumber)]
    assert changes == [("111", "121"), ("112", "122"), ("5555242", "3330202")]


def test_payment_orders_example() -> None:
    (section,) = ag.parse_orders(PAYMENT_ORDERS.read_bytes())
    assert section.opening == Opening(date(2008, 6, 11), "471117", "9902346")
    rows = [(o.kind, o.date, o.period, o.repetitions, o.payer_number, o.amount, o.reference) for o in section.orders]
    assert rows == [
        ("debit", date(2008, 6, 12), 0, None, "101", 75000, "ÅRSKORT-2008"),
        ("debit", date(2008, 6, 12), 0, None, "102", 25050, "KVARTAL-2008"),
        ("debit", date(2008, 6, 30), 5, 6, "103", 110000, "MÅNAD-2008"),  # monthly, last banking day, 6 times
        ("debit", date(2008, 6, 30), 6, 3, "2222101", 500025, "KVARTAL-2008"),
        ("debit", None, 0, None, "3331022", 35000, "KUNDNR5"),  # GENAST
        ("credit", date(2008, 6, 12), 0, None, "7771014", 12500, "UTBETALN"),
        ("credit", date(2008, 6, 12), 0, None, "104", 32500, "UTBETALN"),
        ("credit", date(2008, 6, 12), 0, None, "105", 3000, "UTBETALN1"),
        ("credit", date(2008, 6, 12), 0, None, "5551004", 3000, "UTBETALN2"),
    ]


@pytest.mark.parametrize("path", [MANDATES, PAYMENT_ORDERS], ids=lambda p: p.name)
def test_orders_write_back_byte_for_byte(path: Path) -> None:
    written = ag.write_orders(ag.parse_orders(path.read_bytes()))
    assert written == padded(path)
    assert all(len(line) == 80 for line in written.split(b"\r\n")[:-1])


def test_orders_written_from_values_are_the_example() -> None:
    opening = Opening(date(2008, 6, 11), "471117", "9912346")
    orders = (
        NewMandate("101", NewMandate.account_of("3300", "1212121212"), "191212121212"),
        NewMandate("106", NewMandate.account_of("3300", "1212121212"), "191212121212", reject=True),
        CancelMandate("5551004"),
        ChangePayerNumber("111", "121"),
    )
    written = ag.write_orders([OrderSection(opening, orders)]).split(b"\r\n")
    example = padded(MANDATES).split(b"\r\n")
    assert written[:-1] == [example[0], example[1], example[7], example[9], example[11]]


def test_a_record_of_another_bankgiro_is_refused() -> None:
    lines = lines_of(MANDATES)
    lines[3] = lines[3][:2] + "0005050105" + lines[3][12:]
    with pytest.raises(AutogiroError, match="line 4, bankgiro"):
        ag.parse_orders(assemble(lines))


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (PaymentOrder("debit", date(2026, 1, 1), "1", -1), "amount"),
        (PaymentOrder("debit", date(2026, 1, 1), "1", 10**12), "amount"),
        (PaymentOrder("debit", date(2026, 1, 1), "1", 100, reference="x" * 17), "reference"),
        (PaymentOrder("debit", date(2026, 1, 1), "1", 100, reference="ett\tfel"), "reference"),
        (PaymentOrder("debit", date(2026, 1, 1), "1", 100, reference="€"), "reference"),
        (PaymentOrder("debit", date(2026, 1, 1), "1", 100, period=9), "period"),
        (PaymentOrder("refund", date(2026, 1, 1), "1", 100), "kind"),
        (NewMandate("12345678901234567"), "payer_number"),
        (NewMandate("0"), "payer_number"),
        (NewMandate("1", account="123"), "account"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_naming_the_field(order: ag.Order, field: str) -> None:
    opening = Opening(date(2026, 1, 1), "471117", "9912346")
    with pytest.raises(AutogiroError) as caught:
        ag.write_orders([OrderSection(opening, (order,))])
    assert (caught.value.line, caught.value.field) == (2, field)


# --- mandate advice -----------------------------------------------------------------------------


def test_mandate_advice_example() -> None:
    advice = ag.parse_mandate_advice(ADVICE.read_bytes())
    assert (advice.date, advice.bgc_customer_number, advice.bankgiro) == (date(2008, 6, 11), "471117", "9912346")
    rows = [(r.payer_number, r.information_code, r.comment_code, r.outcome) for r in advice.records]
    assert rows == [
        ("103", "04", "32", "active"),  # new mandate accepted
        ("2222101", "03", "33", "cancelled"),  # cancelled by the payee
        ("103", "03", "33", "cancelled"),
        ("2222101", "46", "02", "cancelled"),  # cancelled by the payer or the payer's bank
        ("102", "43", "07", "cancelled"),  # account enquiry unanswered
        ("3331022", "04", "29", "rejected"),  # wrong payee bankgiro
        ("101", "42", "32", "active"),  # the bank answered the account enquiry: a new mandate
        ("7771014", "03", "21", "rejected"),  # wrong payer number
        ("104", "05", "32", "payer_number_changed"),  # a change of payer number: the new number
        ("105", "05", "33", "payer_number_replaced"),  # ... and the old one, not a cancelled mandate
    ]
    first = advice.records[0]
    assert (first.account, first.id_number, first.date) == ("5001000001000020", "196803050000", date(2008, 6, 11))
    assert first.comment_text == "Nytt Medgivande."
    assert first.information_text == "Nyupplägg: Initierat av betalningsmottagaren."
    assert advice.records[5].comment_text == "Mottagarbankgironummer är felaktigt."
    assert advice.records[1].account is None and advice.records[1].id_number is None


def test_the_code_tables_are_whole() -> None:
    assert sorted(ag.INFORMATION_CODES) == ["03", "04", "05", "10", "42", "43", "44", "46"]
    assert sorted(ag.COMMENT_CODES) == [
        "02", "03", "04", "05", "07", "09", "10", "20", "21", "23", "29", "30", "32", "33", "98",
    ]  # fmt: skip
    assert ag.COMMENT_CODES["33"] == "Makulerad."


def test_an_advice_whose_count_does_not_match_is_an_error_naming_the_closing_line() -> None:
    lines = lines_of(ADVICE)
    del lines[3]
    with pytest.raises(AutogiroError, match="line 11, count: says 10 TK73 records, the file holds 9"):
        ag.parse_mandate_advice(assemble(lines))


def test_an_advice_without_closing_record_is_an_error() -> None:
    with pytest.raises(AutogiroError, match="without its TK09"):
        ag.parse_mandate_advice(assemble(lines_of(ADVICE)[:-1]))


def test_advice_writes_back_byte_for_byte() -> None:
    assert ag.write_mandate_advice(ag.parse_mandate_advice(ADVICE.read_bytes())) == padded(ADVICE)


# --- payment specification ------------------------------------------------------------------------


def test_payment_spec_example() -> None:
    spec = ag.parse_payment_spec(SPEC.read_bytes())
    assert spec.created == datetime(2009, 11, 10, 19, 30, 55, 123456)
    assert (spec.bgc_customer_number, spec.bankgiro, spec.date) == ("471117", "9912346", date(2009, 11, 10))
    kinds = [(s.kind, s.account, s.date, s.serial, s.amount, s.count, len(s.records)) for s in spec.sections]
    assert kinds == [
        ("debit", "8901003232323232", date(2009, 11, 10), "00001", 1500000, 5, 8),  # 15 000,00 kr in 5 debits
        ("credit", "8901003232323232", date(2009, 11, 10), "00001", 300000, 3, 4),
        ("refund", "8901003232323232", date(2009, 11, 10), "00001", 20000, 1, 1),
        ("refund", "8901003232323232", date(2009, 11, 10), "00001", 50000, 1, 1),
    ]
    debits = spec.sections[0].records
    assert [(r.payer_number, r.amount, r.status) for r in debits] == [
        ("101", 300000, 0),
        ("102", 300000, 0),
        ("103", 300000, 0),
        ("7771014", 300000, 0),
        ("105", 300000, 0),
        ("106", 300000, 1),  # insufficient funds
        ("107", 300000, 2),  # no mandate or account closed
        ("2222101", 300000, 9),  # renewed attempt
    ]
    assert (debits[1].date, debits[1].period, debits[1].repetitions, debits[1].reference) == (
        date(2009, 11, 10),
        5,
        6,
        "0000000FAKTNR156",
    )
    assert debits[5].status_text == "Täckning saknas."
    refund = spec.sections[2].records[0]
    assert (refund.kind, refund.date, refund.payer_number, refund.amount) == ("refund", date(2009, 11, 3), "114", 20000)
    assert (refund.refund_date, refund.refund_code, refund.reference) == (date(2009, 11, 10), "02", "0000000FAKTNR150")
    assert spec.sections[1].records[3].payer_number == "33331022" and spec.sections[1].records[3].status == 1


def test_spec_writes_back_byte_for_byte() -> None:
    assert ag.write_payment_spec(ag.parse_payment_spec(SPEC.read_bytes())) == padded(SPEC)


def _set(line: str, position: int, text: str) -> str:
    line = line.ljust(80)
    return line[: position - 1] + text + line[position - 1 + len(text) :]


def test_a_section_whose_sum_does_not_match_is_an_error_naming_its_line() -> None:
    lines = lines_of(SPEC)
    lines[2] = _set(lines[2], 32, "000000300001")  # one öre more on the first debit
    with pytest.raises(AutogiroError) as caught:
        ag.parse_payment_spec(assemble(lines))
    assert (caught.value.line, caught.value.field) == (2, "count and amount")
    assert "says 5 records of 1500000 öre; its approved records are 5 of 1500001 öre" in str(caught.value)


def test_a_closing_record_whose_counts_do_not_match_is_an_error_naming_its_line() -> None:
    lines = lines_of(SPEC)
    lines[-1] = _set(lines[-1], 21, "000000000006")
    with pytest.raises(AutogiroError) as caught:
        ag.parse_payment_spec(assemble(lines))
    assert (caught.value.line, caught.value.field) == (20, "debit sections and records")


def test_a_status_changed_to_approved_breaks_the_section_count() -> None:
    lines = lines_of(SPEC)
    lines[7] = _set(lines[7], 80, "0")  # payer 106: insufficient funds -> approved
    with pytest.raises(AutogiroError, match="line 2, count and amount"):
        ag.parse_payment_spec(assemble(lines))


def test_a_result_outside_its_section_is_an_error() -> None:
    lines = lines_of(SPEC)
    lines.insert(1, lines[2])
    with pytest.raises(AutogiroError, match="line 2, record type: a TK82 outside a TK15 section"):
        ag.parse_payment_spec(assemble(lines))


# --- rejected payment orders ----------------------------------------------------------------------


def test_rejected_orders_example() -> None:
    rejected = ag.parse_rejected(REJECTED.read_bytes())
    assert (rejected.date, rejected.bgc_customer_number, rejected.bankgiro) == (date(2008, 6, 11), "471117", "9912346")
    rows = [(r.kind, r.date, r.payer_number, r.amount, r.reference, r.comment_code) for r in rejected.records]
    assert rows == [
        ("debit", date(2008, 6, 11), "3333", 7500, "RIDLEKTION", "02"),
        ("debit", date(2008, 6, 11), "4444", 25000, "FAKTNR158", "06"),
        ("debit", date(2008, 6, 11), "5555", 55051, "FAKTNR160", "08"),
        ("credit", date(2008, 6, 11), "1212", 7500, "RIDLEKTION ÅTERB", "01"),
        ("credit", None, "2323", 8000, "RIDLEKTION ÅTERB", "12"),  # written 20080633: not a date
        ("credit", date(2008, 6, 11), "1414", 25000, "FAKTNR161", "10"),
        ("credit", date(2008, 6, 3), "5556", 7500, "FAKTNR162", "13"),
        ("credit", date(2008, 6, 11), "7575", 80200, "RIDLEKTION ÅTERB", "01"),
    ]
    assert rejected.records[4].written_date == "20080633"
    assert rejected.records[1].period == 9 and rejected.records[1].comment_text == "Felaktig periodkod."
    assert rejected.records[0].comment_text.startswith("Utgår, bankkontot är ännu ej godkänt")


def test_rejected_writes_back_byte_for_byte() -> None:
    assert ag.write_rejected(ag.parse_rejected(REJECTED.read_bytes())) == padded(REJECTED)


def test_rejected_closing_sum_mismatch_names_the_line() -> None:
    lines = lines_of(REJECTED)
    lines[-1] = _set(lines[-1], 39, "000000087552")
    with pytest.raises(AutogiroError) as caught:
        ag.parse_rejected(assemble(lines))
    assert (caught.value.line, caught.value.field) == (10, "debit count and amount")


def test_autogiro_results_in_bgmax_are_read_by_the_bgmax_codec() -> None:
    (deposit,) = bgmax.parse(BGMAX.read_bytes()).deposits
    assert [(p.reference, p.amount, p.channel) for p in deposit.payments] == [
        ("65598", 10000, 4),
        ("84629", 20000, 4),
        ("39857", 30000, 4),
        ("644591", 10000, 4),
    ]


@pytest.mark.parametrize("path", [MANDATES, ADVICE, SPEC, REJECTED], ids=lambda p: p.name)
def test_lf_line_ends_are_read_too(path: Path) -> None:
    data = path.read_bytes()
    reader = {
        MANDATES: ag.parse_orders,
        ADVICE: ag.parse_mandate_advice,
        SPEC: ag.parse_payment_spec,
        REJECTED: ag.parse_rejected,
    }[path]
    assert reader(data.replace(b"\r\n", b"\n")) == reader(data)


# --- Hypothesis: every record type round trips ----------------------------------------------------

TEXT = st.text(alphabet=string.ascii_uppercase + string.digits + "ÅÄÖ -/", max_size=16).map(str.rstrip)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


def number(digits: int) -> st.SearchStrategy[str]:
    return st.integers(min_value=1, max_value=10**digits - 1).map(str)


def fixed(digits: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=digits, max_size=digits)


openings = st.builds(Opening, days, number(6), number(10))
new_mandates = st.builds(NewMandate, number(16), st.none() | fixed(16), st.none() | fixed(12), st.booleans())
cancels = st.builds(CancelMandate, number(16))
changes = st.builds(ChangePayerNumber, number(16), number(16), st.none() | number(10))
payment_orders = st.builds(
    PaymentOrder,
    st.sampled_from(["debit", "credit"]),
    st.none() | days,
    number(16),
    st.integers(min_value=0, max_value=10**12 - 1),
    TEXT,
    st.integers(min_value=0, max_value=8),
    st.none() | st.integers(min_value=1, max_value=999),
)


@settings(max_examples=60, deadline=None)
@given(openings, st.lists(new_mandates | cancels | changes | payment_orders, max_size=6))
def test_orders_round_trip(opening: Opening, orders: list[ag.Order]) -> None:
    # a TK05 to the opening's own bankgiro is read back as "no new bankgiro"
    orders = [
        replace(o, new_bankgiro=None) if isinstance(o, ChangePayerNumber) and o.new_bankgiro == opening.bankgiro else o
        for o in orders
    ]
    section = OrderSection(opening, tuple(orders))
    assert ag.parse_orders(ag.write_orders([section, section])) == (section, section)


advice_records = st.builds(
    MandateAdviceRecord,
    number(10),
    number(16),
    st.none() | fixed(16),
    st.none() | fixed(12),
    st.sampled_from(sorted(ag.INFORMATION_CODES)),
    st.sampled_from(sorted(ag.COMMENT_CODES)),
    days,
)


@settings(max_examples=60, deadline=None)
@given(days, number(6), number(10), st.lists(advice_records, max_size=6))
def test_mandate_advice_round_trip(day: date, customer: str, bankgiro: str, records: list[MandateAdviceRecord]) -> None:
    advice = MandateAdvice(day, customer, bankgiro, tuple(records))
    assert ag.parse_mandate_advice(ag.write_mandate_advice(advice)) == advice


def spec_records(kind: str) -> st.SearchStrategy[SpecRecord]:
    refund = kind == "refund"
    return st.builds(
        SpecRecord,
        st.just(kind),
        days,
        st.integers(min_value=0, max_value=8),
        st.none() | st.integers(min_value=1, max_value=999),
        number(16),
        st.integers(min_value=0, max_value=10**12 - 1),
        number(10),
        TEXT,
        st.none() if refund else st.sampled_from([0, 1, 2, 9]),
        days if refund else st.none(),
        fixed(2) if refund else st.none(),
    )


@st.composite
def spec_sections(draw: st.DrawFn) -> SpecSection:
    kind = draw(st.sampled_from(["debit", "credit", "refund"]))
    records = tuple(draw(st.lists(spec_records(kind), max_size=4)))
    approved = [r for r in records if r.approved]
    return SpecSection(
        kind,
        draw(number(35)),
        draw(days),
        draw(fixed(5)),
        sum(r.amount for r in approved),
        len(approved),
        records,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    number(6),
    number(10),
    days,
    st.lists(spec_sections(), max_size=4),
)
def test_payment_spec_round_trip(
    created: datetime, customer: str, bankgiro: str, day: date, sections: list[SpecSection]
) -> None:
    spec = PaymentSpec(created, customer, bankgiro, day, tuple(sections))
    assert ag.parse_payment_spec(ag.write_payment_spec(spec)) == spec


rejected_records = st.builds(
    RejectedOrder,
    st.sampled_from(["debit", "credit"]),
    fixed(8),
    st.integers(min_value=0, max_value=9),
    st.none() | st.integers(min_value=1, max_value=999),
    number(16),
    st.integers(min_value=0, max_value=10**10),
    TEXT,
    st.sampled_from(sorted(ag.REJECTION_CODES)),
)


@settings(max_examples=60, deadline=None)
@given(days, number(6), number(10), st.lists(rejected_records, max_size=6))
def test_rejected_round_trip(day: date, customer: str, bankgiro: str, records: list[RejectedOrder]) -> None:
    rejected = RejectedOrders(day, customer, bankgiro, tuple(records))
    assert ag.parse_rejected(ag.write_rejected(rejected)) == rejected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_read_or_refused_with_an_autogiro_error(data: bytes) -> None:
    for reader in (ag.detect, ag.parse_orders, ag.parse_mandate_advice, ag.parse_payment_spec, ag.parse_rejected):
        with contextlib.suppress(AutogiroError):
            reader(data)
