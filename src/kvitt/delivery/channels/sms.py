"""SMS through 46elks' HTTP API (https://46elks.com/docs/send-sms).

``POST {base}/a1/sms`` with HTTP basic auth (API username and password) and a form-encoded
body ``from``, ``to``, ``message`` and optionally ``whendelivered`` (a URL 46elks posts the
delivery report to: form fields ``id``, ``status`` = ``sent`` | ``delivered`` | ``failed``,
``delivered``). The answer is JSON with the message ``id`` and ``status``.

HTTP 5xx, timeouts and unreachable servers are temporary; 401/403 too (the operator's
credentials, fixable without touching the message); any other 4xx (a bad number, an empty
message) is permanent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from kvitt.delivery.channels import PermanentFailure, Sent, TemporaryFailure

# 46elks: an alphanumeric sender is 3-11 letters and digits, starting with a letter.
ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")


@dataclass(frozen=True)
class Elks46Config:
    base_url: str
    user: str | None
    password: str | None
    timeout: float = 15.0


def sender_name(configured: str | None, tenant_name: str) -> str:
    """The configured sender, or the tenant's name reduced to 46elks' alphanumeric sender."""
    if configured:
        return configured
    letters = re.sub(r"[^A-Za-z0-9]", "", tenant_name.replace("å", "a").replace("ä", "a").replace("ö", "o"))
    candidate = letters[:11]
    return candidate if ALPHANUMERIC_SENDER.match(candidate) else "Kvitt"


class Elks46Client:
    def __init__(self, config: Elks46Config, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        auth = (config.user or "", config.password or "")
        self._client = httpx.Client(
            base_url=config.base_url.rstrip("/"), auth=auth, timeout=config.timeout, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Elks46Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, *, sender: str, to: str, message: str, whendelivered: str | None = None) -> Sent:
        form = {"from": sender, "to": to, "message": message}
        if whendelivered:
            form["whendelivered"] = whendelivered
        try:
            response = self._client.post("/a1/sms", data=form)
        except httpx.TimeoutException as exc:
            raise TemporaryFailure(f"46elks did not answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise TemporaryFailure(f"46elks unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            raise TemporaryFailure(f"46elks HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise PermanentFailure(f"46elks refused the SMS (HTTP {response.status_code}): {response.text[:200]}")
        try:
            body = response.json()
            sms_id = str(body["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TemporaryFailure(f"46elks answered something unexpected: {response.text[:200]}") from exc
        return Sent(provider_ref=sms_id, data={"status": body.get("status"), "parts": body.get("parts")})
