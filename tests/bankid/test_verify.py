"""kvitt.bankid.verify: what is checked of a completed sign order before a mandate is made of it."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kvitt.bankid.verify import NotVerified, verify_completion

TEXT = "# Medgivande till Autogiro\nJag medger att **Exempel AB** får ta betalt ..."
DATA = '{"account": "8112189876", "clearing": "3300", "purpose": "autogiro_mandate"}'
SIGNER = "198112189876"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def signature(visible: str = TEXT, non_visible: str = DATA, *, prolog: str = "") -> str:
    signed = (
        '<bankIdSignedData xmlns="http://www.bankid.com/signature/v1.0.0/types" Id="bidSignedData">'
        f'<usrVisibleData charset="UTF-8" visible="wysiwys">{b64(visible)}</usrVisibleData>'
        f"<usrNonVisibleData>{b64(non_visible)}</usrNonVisibleData>"
        "</bankIdSignedData>"
    )
    return b64(
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">'
        f"<SignatureValue>c2lnbmF0dXJl</SignatureValue><Object>{signed}</Object></Signature>"
    )


def completion(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user": {"personalNumber": SIGNER, "name": "Bo Ek"},
        "signature": signature(),
        "ocspResponse": b64("ocsp"),
    }
    return data | changes


def check(data: dict[str, Any], payer: str | None = "811218-9876") -> str:
    try:
        verify_completion(data, visible_text=TEXT, non_visible_data=DATA, payer_id_number=payer)
    except NotVerified as exc:
        return exc.code
    return "ok"


def test_a_completion_of_this_mandate_by_the_payer_is_verified() -> None:
    verified = verify_completion(completion(), visible_text=TEXT, non_visible_data=DATA, payer_id_number="811218-9876")
    assert (verified.personal_number, verified.visible_text, verified.non_visible_data) == (SIGNER, TEXT, DATA)


@pytest.mark.parametrize(
    ("data", "payer", "code"),
    [
        (completion(user={"personalNumber": "191212121212"}), "811218-9876", "personal_number_mismatch"),
        (completion(user={}), None, "personal_number_missing"),
        (completion(user={"personalNumber": "198112189877"}), None, "personal_number_missing"),  # Luhn
        (completion(signature=None), None, "signature_missing"),
        (completion(signature="not base64!"), None, "signature_missing"),
        (completion(signature=b64("<Signature>")), None, "signature_invalid"),
        (completion(signature=b64("<Other xmlns='x'/>")), None, "signature_invalid"),
        (completion(signature=signature(TEXT + " och mer")), None, "signature_mismatch"),
        (completion(signature=signature(non_visible='{"account": "1"}')), None, "signature_mismatch"),
        (completion(signature=signature(prolog='<!DOCTYPE x [<!ENTITY e "x">]>')), None, "signature_invalid"),
        (completion(ocspResponse=None), None, "ocsp_missing"),
    ],
)
def test_what_is_not_verified_names_why(data: dict[str, Any], payer: str | None, code: str) -> None:
    assert check(data, payer) == code


def test_an_organisation_number_on_record_lets_its_signatory_sign() -> None:
    assert check(completion(), payer="556036-0793") == "ok"
    assert check(completion(), payer=None) == "ok"
