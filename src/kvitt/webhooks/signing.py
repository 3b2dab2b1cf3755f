"""The ``Kvitt-Signature`` header, in Stripe's scheme, and the helper issuers verify it with.

``Kvitt-Signature: t=1764050000,v1=5257a869...,v1=9f0c...``: ``t`` is when the request was
signed (unix seconds) and each ``v1`` the hex HMAC-SHA256 of ``f"{t}.{body}"`` under one of the
endpoint's secrets. While a rotated secret is still valid the header carries one ``v1`` per
secret, so a receiver holding either the old or the new secret accepts the request.

This module imports nothing from the rest of Kvitt: an issuer can copy it alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

HEADER = "Kvitt-Signature"
DEFAULT_TOLERANCE = 300


class InvalidSignature(ValueError):
    """The request was not signed with the secret, is malformed, or is too old (a replay)."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header(body: bytes, secrets: Iterable[str], timestamp: int) -> str:
    """The header value for ``body`` signed with every secret given (newest first)."""
    signatures = [f"v1={sign(body, secret, timestamp)}" for secret in secrets]
    if not signatures:
        raise ValueError("at least one secret is needed to sign")
    return ",".join([f"t={timestamp}", *signatures])


def verify(
    payload: bytes, header: str, secret: str, tolerance: int = DEFAULT_TOLERANCE, *, now: int | None = None
) -> dict[str, Any]:
    """Check a webhook request and return its event; raise :class:`InvalidSignature` otherwise.

    ``payload`` is the raw request body (bytes, exactly as received: parse it only after this),
    ``header`` the ``Kvitt-Signature`` header and ``secret`` the endpoint's ``whsec_...``
    secret. A timestamp more than ``tolerance`` seconds from now is refused, so a captured
    request cannot be replayed later; ``tolerance=0`` turns that check off.
    """
    timestamp, signatures = _parse(header)
    expected = sign(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("no v1 signature matches this secret")
    current = int(time.time()) if now is None else now
    if tolerance and abs(current - timestamp) > tolerance:
        raise InvalidSignature(f"timestamp is {abs(current - timestamp)} s away, more than {tolerance} s")
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise InvalidSignature("the body is not JSON") from exc
    if not isinstance(event, dict):
        raise InvalidSignature("the body is not a JSON object")
    return event


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None:
        raise InvalidSignature("the header has no t=<unix time>")
    if not signatures:
        raise InvalidSignature("the header has no v1=<signature>")
    return timestamp, signatures
