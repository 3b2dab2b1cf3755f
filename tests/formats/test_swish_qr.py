"""Prefilled Swish payments (C-format QR content and the app link)."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.formats.swish_qr import (
    ALL_LOCKED,
    AMOUNT_EDITABLE,
    MESSAGE_EDITABLE,
    PAYEE_EDITABLE,
    SwishError,
    amount_text,
    app_link,
    c_format,
    parse_c_format,
    payee_number,
)


def test_c_format_fields_in_order_with_decimal_comma() -> None:
    """Getswish AB, Swish QR code specification (prefilled, C-format):
    ``C<payee>;<amount>;<message>;<editable mask>``, amount with a decimal comma."""
    assert c_format("123 456 78 90", 61200, "1234567897") == "C1234567890;612,00;1234567897;0"
    assert c_format("1234567890", 5, "x") == "C1234567890;0,05;x;0"


def test_message_is_url_encoded() -> None:
    """Swish QR code specification: the message field is URL-encoded (space, ;, non-ASCII)."""
    assert c_format("1234567890", 100, "Faktura 12;ö") == "C1234567890;1,00;Faktura%2012%3B%C3%B6;0"


def test_lock_mask_bits() -> None:
    """Swish QR code specification: payee 1, amount 2, message 4; a set bit makes the field editable."""
    assert (PAYEE_EDITABLE, AMOUNT_EDITABLE, MESSAGE_EDITABLE, ALL_LOCKED) == (1, 2, 4, 0)
    assert c_format("1234567890", 100, "m", AMOUNT_EDITABLE | MESSAGE_EDITABLE).endswith(";6")
    with pytest.raises(SwishError):
        c_format("1234567890", 100, "m", 8)


def test_message_limit_is_fifty_characters() -> None:
    """Swish Commerce API v2: ``message`` holds at most 50 characters."""
    assert c_format("1234567890", 100, "x" * 50)
    with pytest.raises(SwishError):
        c_format("1234567890", 100, "x" * 51)


@pytest.mark.parametrize("bad", [0, -100, 10_000_000_000, True])
def test_amount_must_be_payable(bad: int) -> None:
    """An amount of zero or less cannot be paid with Swish; öre are integers (no float)."""
    with pytest.raises(SwishError):
        amount_text(bad)


def test_payee_normalised_and_checked() -> None:
    """Swish numbers are digits; a +46 mobile number is shown in national form by the app."""
    assert payee_number("123-456 78 90") == "1234567890"
    assert payee_number("+46701234567") == "0701234567"
    for bad in ("", "12345", "12345abcde", "１２３４５６７８９０"):
        with pytest.raises(SwishError):
            payee_number(bad)


@given(
    ore=st.integers(min_value=1, max_value=99_999_999_99),
    message=st.text(max_size=50).filter(lambda m: "\r" not in m and "\n" not in m),
    mask=st.integers(min_value=0, max_value=7),
)
def test_round_trip(ore: int, message: str, mask: int) -> None:
    """Whatever goes in comes out: four fields, the message's ';' cannot split them (URL-encoded)."""
    content = c_format("1234567890", ore, message, mask)
    assert content.count(";") == 3
    assert parse_c_format(content) == ("1234567890", ore, message, mask)


def test_app_link_carries_locked_payee_amount_message() -> None:
    """Getswish AB app-switch: ``swish://payment?data=`` + URL-encoded JSON, version 1, amount in kronor."""
    link = app_link("1234567890", 61250, "1234567897")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("swish", "payment")
    raw = parse_qs(parts.query)["data"][0]
    data = json.loads(raw, parse_float=Decimal)
    assert data == {
        "version": 1,
        "payee": {"value": "1234567890", "editable": False},
        "amount": {"value": Decimal("612.50"), "editable": False},
        "message": {"value": "1234567897", "editable": False},
    }
    assert "612.50" in unquote(link)
