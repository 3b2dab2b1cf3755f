"""formats/billogram.py: exact JSON both ways, and the callback signed as Billogram signs it."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.formats import billogram


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_ore_written_as_kronor_reads_back_exactly(ore: int) -> None:
    body = billogram.dumps({"price": billogram.kronor(ore)})
    assert billogram.loads(body)["price"] * 100 == ore
    assert json.loads(body)["price"] == pytest.approx(ore / 100)  # what a float client sees


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_plain_values_are_written_as_json_does(value: object) -> None:
    assert json.loads(billogram.dumps(value)) == value


def test_floats_and_nan_are_refused() -> None:
    with pytest.raises(TypeError):
        billogram.dumps({"price": 1.5})
    with pytest.raises(billogram.NotJson):
        billogram.loads(b'{"price": NaN}')
    with pytest.raises(billogram.NotJson):
        billogram.loads(b"{")
    assert billogram.loads(b'{"price": 0.1}')["price"] == Decimal("0.1")


def test_callback_of_a_payment() -> None:
    event = {
        "id": "evt_1",
        "type": "invoice.payment",
        "created": 1_700_000_000,
        "data": {
            "object": {
                "id": 7,
                "kind": "invoice",
                "number": 3,
                "ocr": "307",
                "state": "partly_paid",
                "currency": "SEK",
                "total": 39500,
                "remaining": 29475,
                "url": "https://k/i/t",
            },
            "details": {"amount": 10025, "reference": None},
        },
    }
    body = billogram.callback(event, "key", "shop")
    assert body["signature"] == hashlib.md5(b"evt_1key").hexdigest()
    assert body["event"] == {
        "type": "Payment",
        "created_at": "2023-11-14T22:13:20+00:00",
        "data": {"amount": Decimal("100.25"), "reference": None},
    }
    assert body["billogram"] == {
        "id": "7",
        "invoice_no": 3,
        "ocr_number": "307",
        "state": "Partly paid",
        "currency": "SEK",
        "total_sum": Decimal("395.00"),
        "remaining_sum": Decimal("294.75"),
        "url": "https://k/i/t",
    }
    note = billogram.callback(
        {
            **event,
            "type": "invoice.issued",
            "data": {"object": {"id": 8, "kind": "credit_note", "credited_invoice": 7}},
        },
        "key",
    )
    assert note["billogram"] == {"id": "7"} and note["event"]["type"] == "CreditInvoiceSent"
