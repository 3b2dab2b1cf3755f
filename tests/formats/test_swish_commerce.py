"""The Swish Commerce field codec: amounts both ways, the message sanitiser, payer aliases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvitt.formats import swish_commerce as codec

ORE = st.integers(min_value=1, max_value=codec.MAX_AMOUNT_ORE)


@given(ORE)
def test_an_amount_is_written_with_two_decimals_and_read_back_exactly(ore: int) -> None:
    text = codec.amount_text(ore)
    assert codec.amount_ok(text)
    whole, _, decimals = text.partition(".")
    assert len(decimals) == 2 and whole.isdigit() and (whole == "0" or not whole.startswith("0"))
    assert codec.parse_amount(text) == ore
    # Answers carry the amount as a JSON number, read as Decimal.
    assert codec.parse_amount(Decimal(text)) == ore


@pytest.mark.parametrize(("ore", "text"), [(1, "0.01"), (100, "1.00"), (43100, "431.00"), (123456, "1234.56")])
def test_known_amounts(ore: int, text: str) -> None:
    assert codec.amount_text(ore) == text and codec.parse_amount(text) == ore


@pytest.mark.parametrize("bad", [0, -1, codec.MAX_AMOUNT_ORE + 1, True])
def test_amounts_swish_cannot_carry_are_refused(bad: int) -> None:
    with pytest.raises(codec.SwishFieldError):
        codec.amount_text(bad)


@pytest.mark.parametrize("bad", ["431.005", "1e3", "-1.00", "", "0.00", "01.00", "431,00", Decimal("0.001"), 1.5])
def test_amount_texts_swish_would_refuse_are_refused(bad: object) -> None:
    with pytest.raises(codec.SwishFieldError):
        codec.parse_amount(bad)


@given(st.text(max_size=200))
def test_the_sanitised_message_is_always_one_swish_accepts(text: str) -> None:
    message = codec.sanitise_message(text)
    assert codec.message_ok(message)
    assert message == message.strip() and "  " not in message
    assert codec.sanitise_message(message) == message  # sanitising twice changes nothing


@given(st.text(alphabet='abcdefghijklmnopqrstuvwxyzåäöÅÄÖABC0123456789:;.,?!()-" ', max_size=50))
def test_a_message_within_the_rules_is_kept_as_written(text: str) -> None:
    normal = " ".join(text.split())
    assert codec.sanitise_message(text) == normal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Faktura 2984 – Norrsken & Co", "Faktura 2984 - Norrsken och Co"),
        ("Café Öster “nr 3”", 'Cafe Öster "nr 3"'),
        ("Räkning #42 @ Kvitt", "Räkning 42 Kvitt"),
        ("Faktura 1 Fjällström Energi Aktiebolag i Östersunds kommun", "Faktura 1 Fjällström Energi Aktiebolag i"),
    ],
)
def test_known_messages(text: str, expected: str) -> None:
    assert codec.sanitise_message(text) == expected


@pytest.mark.parametrize(
    ("written", "alias"),
    [("070-123 45 67", "46701234567"), ("+46 70 123 45 67", "46701234567"), ("0046701234567", "46701234567")],
)
def test_payer_aliases_are_made_international(written: str, alias: str) -> None:
    assert codec.payer_alias(written) == alias


@pytest.mark.parametrize("bad", ["12", "abc", "+0701234567", "4670123456789012"])
def test_numbers_that_are_no_alias_are_refused(bad: str) -> None:
    with pytest.raises(codec.SwishFieldError):
        codec.payer_alias(bad)


@pytest.mark.parametrize(
    ("status", "code", "state"),
    [
        ("PAID", None, "paid"),
        ("DECLINED", "RF07", "declined"),
        ("ERROR", "TM01", "error"),
        ("ERROR", "BANKIDCL", "declined"),
        ("CANCELLED", None, "cancelled"),
        ("ERROR", "XX99", "error"),
    ],
)
def test_swish_statuses_become_kvitts_states(status: str, code: str | None, state: str) -> None:
    assert codec.outcome_of(status, code) == state
