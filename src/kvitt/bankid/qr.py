"""The animated QR code and the autostart link of a BankID order (pure; RP API v6).

BankID's app reads ``bankid.<qrStartToken>.<t>.<qrAuthCode>`` where ``t`` is the whole number of
seconds since the order was started and ``qrAuthCode`` is HMAC-SHA256 of ``str(t)`` keyed with the
order's ``qrStartSecret``, in lower-case hex. The code changes every second; a code older than a
few seconds is refused by the app, so the page shows a fresh one each second.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlencode

AUTOSTART_BASE = "https://app.bankid.com/"


def qr_auth_code(qr_start_secret: str, seconds: int) -> str:
    return hmac.new(qr_start_secret.encode("ascii"), str(seconds).encode("ascii"), hashlib.sha256).hexdigest()


def qr_data(qr_start_token: str, qr_start_secret: str, seconds: int) -> str:
    """The QR code's content ``seconds`` whole seconds after the order started."""
    if seconds < 0:
        raise ValueError("seconds since the order started cannot be negative")
    return f"bankid.{qr_start_token}.{seconds}.{qr_auth_code(qr_start_secret, seconds)}"


def seconds_since(started_at: datetime, now: datetime) -> int:
    """Whole seconds from ``started_at`` to ``now`` (0 when the clocks disagree by a little)."""
    return max(0, int((now - started_at).total_seconds()))


def autostart_url(auto_start_token: str, redirect: str | None = None) -> str:
    """The universal link that opens the BankID app on the same device (a phone).

    ``redirect`` is where the app sends the user back when the order is done; ``null`` makes the
    app leave the user where they are (BankID's advice when the browser cannot be named).
    """
    query = urlencode({"autostarttoken": auto_start_token, "redirect": redirect or "null"})
    return f"{AUTOSTART_BASE}?{query}"
