"""HTTP Basic as Billogram does it: the user name names the tenant, the password is a Kvitt
API key of that tenant."""

from __future__ import annotations

import base64
import binascii

from kvitt.billogram.errors import INVALID_AUTH, MISSING_AUTH, BillogramError


def user_name(tenant_id: int, org_number: str) -> str:
    """The Basic user name of a tenant (``kvitt init --json`` and ``kvitt keys create --json``
    print it as ``billogram_user``): its id and organisation number, e.g. ``7-5560360793``."""
    return f"{tenant_id}-{org_number.replace('-', '')}"


def basic_credentials(authorization: str | None) -> tuple[str, str]:
    """(user, key) of an ``Authorization: Basic ...`` header; 403 as Billogram answers."""
    if not authorization:
        raise BillogramError(MISSING_AUTH, "no authentication data was given", http_status=403)
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise BillogramError(INVALID_AUTH, "use HTTP Basic: the API user and the API key", http_status=403)
    try:
        user, sep, key = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise BillogramError(INVALID_AUTH, "the Basic credentials cannot be read", http_status=403) from None
    if not user and not key:
        raise BillogramError(MISSING_AUTH, "no authentication data was given", http_status=403)
    if not sep or not user or not key:
        raise BillogramError(INVALID_AUTH, "the Basic credentials need a user and a key", http_status=403)
    return user, key
