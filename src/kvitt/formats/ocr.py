"""OCR references for Bankgirot payments.

Source: Bankgirot, "OCR-referenskontroll" (Bankgiro Inbetalningar manual): digits only,
at most 25 digits, the last one a Luhn (mod 10) check digit; an optional length digit
second to last that equals the total number of digits, length and check digits
included, modulo 10.
"""

from __future__ import annotations

MAX_LENGTH = 25
MIN_LENGTH = 2


class OcrError(ValueError):
    """A reference that cannot be an OCR number."""


def _digits(text: str) -> bool:
    # str.isdigit() alone also accepts "１２３" and "²" (Unicode digits); OCR is ASCII 0-9 only.
    return text.isascii() and text.isdigit()


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit to append to ``digits`` (weights 2,1,2,1... from the right)."""
    if not _digits(digits):
        raise OcrError(f"not digits: {digits!r}")
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def has_valid_check_digit(reference: str) -> bool:
    return (
        len(reference) >= MIN_LENGTH and _digits(reference) and luhn_check_digit(reference[:-1]) == int(reference[-1])
    )


def has_valid_length_digit(reference: str) -> bool:
    return len(reference) >= 3 and _digits(reference) and int(reference[-2]) == len(reference) % 10


def is_valid(reference: str, *, with_length_digit: bool = True) -> bool:
    """Whether ``reference`` passes Bankgirot's check-digit (and length-digit) control."""
    if not (MIN_LENGTH <= len(reference) <= MAX_LENGTH) or not _digits(reference):
        return False
    if with_length_digit and not has_valid_length_digit(reference):
        return False
    return has_valid_check_digit(reference)


def make_reference(base: int | str, *, length: int | None = None) -> str:
    """Build an OCR reference from ``base`` with a length digit and a check digit.

    ``length`` fixes the total number of digits (``base`` is zero-padded on the left);
    ``None`` gives the shortest reference, as with variable-length control.
    """
    digits = str(base)
    if not _digits(digits):
        raise OcrError(f"OCR base must be digits, got {digits!r}")
    if length is None:
        total = len(digits) + 2
    else:
        if not (3 <= length <= MAX_LENGTH):
            raise OcrError(f"OCR length must be between 3 and {MAX_LENGTH}, got {length}")
        if len(digits) > length - 2:
            raise OcrError(f"{digits} does not fit in an OCR reference of {length} digits")
        digits = digits.zfill(length - 2)
        total = length
    if total > MAX_LENGTH:
        raise OcrError(f"OCR reference would have {total} digits, at most {MAX_LENGTH} allowed")
    with_length = digits + str(total % 10)
    return with_length + str(luhn_check_digit(with_length))
