"""What Kvitt checks of a completed BankID sign order before a mandate is made of it.

BankID's ``collect`` answers ``complete`` with ``completionData``: ``user.personalNumber``, the
``signature`` (base64 of an XML-DSig document whose ``Object`` holds ``bankIdSignedData`` with
``usrVisibleData`` and ``usrNonVisibleData``, each base64 of what the relying party sent) and the
``ocspResponse`` (base64). Checked here, each failure a ``NotVerified`` with a code:

- ``personal_number``: the signer's personal number is a valid Swedish personal number, and it
  is the payer's when the customer's own id number is a personal number (``personal_number_mismatch``);
- ``signature``: present, base64, well-formed XML (no DOCTYPE or entities: parsed without
  resolving anything), an XML-DSig ``Signature`` with a ``SignatureValue`` and a
  ``bankIdSignedData`` whose visible and non-visible data are exactly the mandate text the payer
  was shown and the mandate data Kvitt sent (``signature_mismatch`` otherwise): the signature
  document is about this mandate and no other;
- ``ocsp``: the OCSP response is present and base64.

Not checked: the XML-DSig signature value against the signer's certificate chain up to BankID's
root, and the OCSP response's own signature. The simulator (``kvitt.simulators.bankid``) signs
with an HMAC of its own, not a certificate, so there is nothing to verify such a check against
here; with BankID's production environment a relying party may add it (the signature and OCSP
response are kept as the mandate's evidence either way).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from lxml import etree

from kvitt.core import identity

DSIG = "http://www.w3.org/2000/09/xmldsig#"
BANKID = "http://www.bankid.com/signature/v1.0.0/types"
MAX_SIGNATURE = 2_000_000  # characters of base64; BankID's documents are a few tens of kB


class NotVerified(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Verified:
    personal_number: str  # 12 digits
    visible_text: str
    non_visible_data: str


def verify_completion(
    data: dict[str, Any] | None, *, visible_text: str, non_visible_data: str, payer_id_number: str | None
) -> Verified:
    """Check a completed order's ``completionData`` against what was sent for signing; see the module."""
    data = data or {}
    number = _personal_number(data, payer_id_number)
    visible, non_visible = _signed_data(data.get("signature"))
    if visible != visible_text:
        raise NotVerified("signature_mismatch", "the signed text is not the mandate text the payer was shown")
    if non_visible != non_visible_data:
        raise NotVerified("signature_mismatch", "the signed data is not the mandate Kvitt sent for signing")
    _b64(data.get("ocspResponse"), "ocsp_missing", "the OCSP response")
    return Verified(number, visible, non_visible)


def _personal_number(data: dict[str, Any], payer_id_number: str | None) -> str:
    user = data.get("user")
    written = str(user.get("personalNumber") or "") if isinstance(user, dict) else ""
    try:
        number = identity.personal_number(written)
    except ValueError:
        raise NotVerified("personal_number_missing", "BankID named no valid personal number") from None
    payer = as_personal_number(payer_id_number)
    if payer is not None and payer != number:
        raise NotVerified("personal_number_mismatch", "the signer is not the payer the customer record names")
    return number


def as_personal_number(value: str | None) -> str | None:
    """A customer's id number as 12 digits when it is a personal number, else None."""
    if not value:
        return None
    try:
        return identity.personal_number(value)
    except ValueError:
        return None  # an organisation number: a company's signatory signs with their own number


def _b64(value: Any, code: str, what: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > MAX_SIGNATURE:
        raise NotVerified(code, f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NotVerified(code, f"{what} is not base64") from None


def _signed_data(signature: Any) -> tuple[str, str]:
    document = _b64(signature, "signature_missing", "the signature")
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise NotVerified("signature_invalid", "the signature document declares a DOCTYPE")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError:
        raise NotVerified("signature_invalid", "the signature is not well-formed XML") from None
    if root.tag != f"{{{DSIG}}}Signature" or root.find(f"{{{DSIG}}}SignatureValue") is None:
        raise NotVerified("signature_invalid", "the signature is not an XML-DSig Signature with a value")
    signed = root.find(f".//{{{BANKID}}}bankIdSignedData")
    if signed is None:
        raise NotVerified("signature_invalid", "the signature holds no bankIdSignedData")
    return _decoded(signed, "usrVisibleData"), _decoded(signed, "usrNonVisibleData")


def _decoded(signed: Any, name: str) -> str:
    element = signed.find(f"{{{BANKID}}}{name}")
    raw = (element.text or "").strip() if element is not None else ""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise NotVerified("signature_invalid", f"{name} is not base64 of UTF-8 text") from None
