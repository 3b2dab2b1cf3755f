"""OCR references for Bankgiro payments.

Sources:
- Bankgirot, "Bankgiro Inbetalningar (Bankgiro Receivables) User Manual", 5.2 "Using OCR
  reference numbers": 5.2.1 rules and structure, 5.2.2 "Calculate check digit using
  modulus 10", 5.2.3 "Calculate length digit"; and Bankgirot's web check
  "OCR-referenskontroll" (bankgirot.se/tjanster/inbetalningar/bankgiro-inbetalningar/
  ocr-referenskontroll): the last digit is a check digit by the 10-modulus (Luhn), the
  optional length digit is second to last and counts every digit, itself and the check
  digit included, keeping only the units (a 12-digit reference has length digit 2).
- BGMax technical manual, TK20 positions 13–37: the reference field holds 25 characters.
- The Luhn algorithm: ISO/IEC 7812-1 Annex B; the same check digit as the personnummer
  (Skatteverket SKV 704).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from kvitt.formats import ocr

DIGITS = "0123456789"


def digit_strings(min_size: int = 1, max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=min_size, max_size=max_size)


@st.composite
def bases_and_lengths(draw: st.DrawFn) -> tuple[int, int]:
    """A base and a fixed reference length it fits in (base + length digit + check digit)."""
    length = draw(st.integers(min_value=3, max_value=ocr.MAX_LENGTH))
    base = draw(st.integers(min_value=0, max_value=10 ** (length - 2) - 1))
    return base, length


# --- the Luhn (10-modulus) check digit -------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("811218987", 6),  # personnummer 811218-9876 (Skatteverket SKV 704's own example)
        ("1234568", 2),  # Bankgirot's style of example: base 123456, length digit 8 -> 12345682
        ("7992739871", 3),  # the classic Luhn example (ISO/IEC 7812-1 Annex B): 79927398713
        ("5050105", 5),  # bankgiro 5050-1055
        ("0", 0),
        ("1", 8),  # 1*2 = 2, (10 - 2) % 10
        ("9", 1),  # 9*2 = 18 -> 1+8 = 9, (10 - 9) % 10
    ],
)
def test_luhn_check_digit_known_vectors(digits: str, check: int) -> None:
    """Bankgirot User Manual 5.2.2 (modulus 10: weights 2,1,2,1... from the right, digit sums)."""
    assert ocr.luhn_check_digit(digits) == check
    assert int(luhn.calc_check_digit(digits)) == check


@given(digit_strings())
def test_luhn_check_digit_agrees_with_python_stdnum(digits: str) -> None:
    """Bankgirot User Manual 5.2.2; cross-checked with python-stdnum's independent stdnum.luhn."""
    check = ocr.luhn_check_digit(digits)
    assert check == int(luhn.calc_check_digit(digits))
    assert luhn.is_valid(digits + str(check))
    assert ocr.has_valid_check_digit(digits + str(check))


@pytest.mark.parametrize("bad", ["", "12a4", "12 34", "-123", "１２３", "1²", "٣"])
def test_luhn_check_digit_refuses_non_digits(bad: str) -> None:
    """Bankgirot User Manual 5.2.1: an OCR reference is the digits 0–9 only (not other Unicode digits)."""
    with pytest.raises(ocr.OcrError):
        ocr.luhn_check_digit(bad)


# --- the length digit and known references ----------------------------------------------------


def test_bankgirot_style_example_with_length_digit() -> None:
    """Bankgirot User Manual 5.2.3: base 123456 -> 8 digits in all, length digit 8, check digit 2."""
    reference = ocr.make_reference(123456)
    assert reference == "12345682"
    assert ocr.is_valid(reference)
    assert ocr.has_valid_length_digit(reference)
    assert ocr.has_valid_check_digit(reference)


def test_twelve_digit_reference_has_length_digit_2() -> None:
    """Bankgirot User Manual 5.2.3: the length digit keeps only the units of the digit count (12 -> 2)."""
    reference = ocr.make_reference(1234567890)
    assert len(reference) == 12
    assert reference[-2] == "2"
    assert ocr.is_valid(reference)


def test_ten_digit_reference_has_length_digit_0() -> None:
    """Bankgirot User Manual 5.2.3: 10 digits in all gives length digit 0."""
    reference = ocr.make_reference(12345678)
    assert len(reference) == 10
    assert reference[-2] == "0"
    assert ocr.is_valid(reference)


def test_fixed_length_pads_the_base_with_zeros() -> None:
    """Bankgirot User Manual 5.2.1 (fixed-length control): every reference has the agreed length."""
    reference = ocr.make_reference(1234, length=12)
    assert reference == "000000123422"
    assert reference[:-2] == "0000001234"
    assert reference[-2] == "2"  # 12 digits
    assert reference[-1] == str(luhn.calc_check_digit("00000012342"))
    assert ocr.is_valid(reference)


def test_variable_length_is_the_shortest_reference() -> None:
    """Bankgirot User Manual 5.2.1 (variable-length control): base + length digit + check digit."""
    assert ocr.make_reference(7) == "7" + "3" + luhn.calc_check_digit("73")
    assert ocr.make_reference("0042") == "0042" + "6" + luhn.calc_check_digit("00426")


def test_wrong_length_digit_fails_length_control_but_not_check_digit_control() -> None:
    """Bankgirot "OCR-referenskontroll": the check-digit level ignores the length digit."""
    body = "1234567"  # claims 7 digits, the reference will have 8
    reference = body + luhn.calc_check_digit(body)
    assert ocr.has_valid_check_digit(reference)
    assert not ocr.has_valid_length_digit(reference)
    assert not ocr.is_valid(reference)
    assert ocr.is_valid(reference, with_length_digit=False)


@pytest.mark.parametrize(
    "reference",
    ["", "0", "12345683", "1234568a", "12 345682", " 12345682", "1" * 26, "١٢٣٤٥٦٨٢", "1²", "12345682\n"],
)
def test_is_valid_rejects(reference: str) -> None:
    """Bankgirot User Manual 5.2.1: digits only, at most 25 (BGMax TK20 reference field), Luhn last."""
    assert not ocr.is_valid(reference)
    assert not ocr.is_valid(reference, with_length_digit=False)


def test_full_width_digits_are_not_ocr_digits() -> None:
    """Bankgirot User Manual 5.2.1: digits 0–9 only; Unicode digits that str.isdigit() accepts are not."""
    assert not ocr.is_valid("１２３４５６８２")
    with pytest.raises(ocr.OcrError):
        ocr.make_reference("１２３")


def test_longest_reference_is_25_digits() -> None:
    """BGMax TK20 positions 13–37: a reference has at most 25 characters."""
    reference = ocr.make_reference("9" * 23)
    assert len(reference) == 25
    assert reference[-2] == "5"
    assert ocr.is_valid(reference)
    assert ocr.make_reference(1, length=25)[-2] == "5"


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "length"),
    [
        ("9" * 24, None),  # 26 digits with length and check digit
        (1, 26),  # longer than 25
        (1, 2),  # no room for a base
        (1, 0),
        (12345, 6),  # 5 digits do not fit in 6 - 2
        ("12a", None),
        ("", None),
        (-5, None),
        ("-5", 10),
        (" 12", None),
        ("1.5", None),
    ],
)
def test_make_reference_errors(base: int | str, length: int | None) -> None:
    """Bankgirot User Manual 5.2.1: 25 digits at most, digits only; a base must fit the fixed length."""
    with pytest.raises(ocr.OcrError):
        ocr.make_reference(base, length=length)


def test_ocr_error_is_a_value_error() -> None:
    """Callers (pydantic validators, importers) catch ValueError."""
    with pytest.raises(ValueError):
        ocr.make_reference("x")


# --- properties ------------------------------------------------------------------------------


@given(bases_and_lengths())
def test_fixed_length_references_are_valid_and_of_that_length(base_length: tuple[int, int]) -> None:
    """Bankgirot User Manual 5.2 (check digit and fixed length): the strictest control passes."""
    base, length = base_length
    reference = ocr.make_reference(base, length=length)
    assert len(reference) == length
    assert reference.isascii() and reference.isdigit()
    assert ocr.is_valid(reference)
    assert ocr.is_valid(reference, with_length_digit=False)
    assert luhn.is_valid(reference)
    assert int(reference[-2]) == length % 10
    assert int(reference[:-2]) == base


@given(st.integers(min_value=0, max_value=10**23 - 1))
def test_variable_length_references_are_valid(base: int) -> None:
    """Bankgirot User Manual 5.2 (check digit and variable length)."""
    reference = ocr.make_reference(base)
    assert len(reference) == len(str(base)) + 2
    assert ocr.is_valid(reference)
    assert reference[:-2] == str(base)


@given(bases_and_lengths(), st.data())
def test_changing_any_single_digit_breaks_validity(base_length: tuple[int, int], data: st.DataObject) -> None:
    """ISO/IEC 7812-1 Annex B: the Luhn digit detects every single-digit error."""
    base, length = base_length
    reference = ocr.make_reference(base, length=length)
    position = data.draw(st.integers(min_value=0, max_value=len(reference) - 1))
    replacement = data.draw(st.sampled_from([d for d in DIGITS if d != reference[position]]))
    changed = reference[:position] + replacement + reference[position + 1 :]
    assert not ocr.has_valid_check_digit(changed)
    assert not ocr.is_valid(changed)
    assert not ocr.is_valid(changed, with_length_digit=False)


@given(bases_and_lengths(), st.data())
def test_swapping_adjacent_digits_breaks_validity_except_09(base_length: tuple[int, int], data: st.DataObject) -> None:
    """ISO/IEC 7812-1 Annex B: Luhn detects every adjacent transposition except 09 <-> 90."""
    base, length = base_length
    reference = ocr.make_reference(base, length=length)
    position = data.draw(st.integers(min_value=0, max_value=len(reference) - 2))
    pair = reference[position : position + 2]
    swapped = reference[:position] + pair[::-1] + reference[position + 2 :]
    # 0 and 9 contribute 0 and 9 at either weight (9 * 2 = 18 -> 1 + 8), so that swap goes unseen.
    assert ocr.has_valid_check_digit(swapped) == (pair[0] == pair[1] or pair in ("09", "90"))


@given(st.integers(min_value=3, max_value=ocr.MAX_LENGTH), st.data())
def test_distinct_bases_give_distinct_references_at_fixed_length(length: int, data: st.DataObject) -> None:
    """Kvitt's rule (ARCHITECTURE.md: OCR unique per tenant) on top of Bankgirot's fixed-length control."""
    bases = data.draw(st.lists(st.integers(min_value=0, max_value=10 ** (length - 2) - 1), min_size=2, unique=True))
    references = [ocr.make_reference(base, length=length) for base in bases]
    assert len(set(references)) == len(bases)


@given(st.integers(min_value=0, max_value=10**22))
def test_too_small_fixed_length_is_refused(base: int) -> None:
    """Bankgirot User Manual 5.2.1: a fixed-length reference cannot hold a longer base."""
    with pytest.raises(ocr.OcrError):
        ocr.make_reference(base, length=len(str(base)) + 1)
