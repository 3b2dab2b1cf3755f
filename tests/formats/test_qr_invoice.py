"""UsingQR payment codes (Usingtech AB, "UsingQR specification", revision 2, June 2014)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.formats.qr_invoice import QrInvoice, QrInvoiceError, amount_text, encode

SAMPLE = QrInvoice(
    payee_name="Test AB",
    country="SE",
    company_id="556036-0793",
    reference="1001",
    invoice_date=date(2022, 9, 26),
    due_date=date(2022, 10, 26),
    amount_ore=5000,
    currency="SEK",
    payment_type="BG",
    account="5536-7742",
)


def test_the_fields_of_the_spec_in_its_order_compact() -> None:
    """Spec rev. 2: uqr=1, tp=1 (invoice), dates YYYYMMDD, pt BG with the bankgiro as written."""
    assert encode(SAMPLE) == (
        '{"uqr":1,"tp":1,"nme":"Test AB","cc":"SE","cid":"556036-0793","iref":"1001",'
        '"idt":"20220926","ddt":"20221026","due":50.00,"cur":"SEK","pt":"BG","acc":"5536-7742"}'
    )


def test_the_amount_is_a_json_number_with_two_decimals_never_a_float() -> None:
    """``due`` is a number in the published samples (``"due":2500.0000``); written from öre as text."""
    parsed = json.loads(encode(replace(SAMPLE, amount_ore=61184)), parse_float=Decimal)
    assert parsed["due"] == Decimal("611.84")
    assert '"due":611.84,' in encode(replace(SAMPLE, amount_ore=61184))
    assert '"due":0.01,' in encode(replace(SAMPLE, amount_ore=1))


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_amount_text_is_exactly_the_ore_in_kronor(ore: int) -> None:
    text = amount_text(ore)
    assert Decimal(text) == Decimal(ore) / 100
    assert len(text.split(".")[1]) == 2


@given(st.text(min_size=1, max_size=60).filter(lambda s: s.strip()))
def test_any_payee_name_round_trips_and_the_code_stays_ascii(name: str) -> None:
    text = encode(replace(SAMPLE, payee_name=name))
    assert text.isascii()
    assert json.loads(text)["nme"] == name


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payee_name": " "}, "nme"),
        ({"country": "Sverige"}, "cc"),
        ({"currency": "kr"}, "cur"),
        ({"payment_type": "SWISH"}, "pt"),
        ({"account": ""}, "acc"),
        ({"reference": ""}, "iref"),
        ({"amount_ore": 0}, "due"),
        ({"due_date": date(2022, 9, 1)}, "ddt"),
    ],
)
def test_what_cannot_make_a_valid_code_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(QrInvoiceError, match=f"^{field}:"):
        encode(replace(SAMPLE, **change))  # type: ignore[arg-type]
