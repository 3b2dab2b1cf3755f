"""A small client of BankID's Relying Party API v6 over mutual TLS (httpx).

``sign`` starts a sign order, ``collect`` asks how it goes (every two seconds while ``pending``),
``cancel`` ends it. The relying party proves itself with its client certificate; the server's
certificate is checked against the CA named in the settings (BankID's own CA in production, the
simulator's test CA in tests and the demo). Errors come back as :class:`BankIDError` with BankID's
``errorCode`` (``invalidParameters``, ``alreadyInProgress``, ``unauthorized``, ``notFound``,
``requestTimeout``, ``maintenance``, ``internalError`` ...) and ``details``; a network failure is a
``BankIDError`` with the code ``unreachable``.

Why not ``pybankid``: it speaks v6 too (and the tests drive the simulator with it), but it fixes the
service address to BankID's two hosts and computes the QR code from the wall clock; Kvitt needs the
address from ``KVITT_BANKID_URL`` and the QR code from the order's stored start time.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from kvitt.core.config import Settings

TIMEOUT_SECONDS = 10.0


class BankIDError(Exception):
    def __init__(self, error_code: str, details: str = "", status: int | None = None) -> None:
        super().__init__(f"{error_code}: {details}" if details else error_code)
        self.error_code = error_code
        self.details = details
        self.status = status


class BankIDNotConfigured(BankIDError):
    def __init__(self, details: str) -> None:
        super().__init__("notConfigured", details)


@dataclass(frozen=True)
class StartedOrder:
    order_ref: str
    auto_start_token: str
    qr_start_token: str
    qr_start_secret: str


@dataclass(frozen=True)
class Collected:
    order_ref: str
    status: str  # pending | failed | complete
    hint_code: str | None
    completion_data: dict[str, Any] | None


def encode_text(text: str) -> str:
    """userVisibleData / userNonVisibleData: UTF-8, then base64."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def tls_context(ca_file: str, cert_file: str, key_file: str | None) -> ssl.SSLContext:
    """Verify the server against ``ca_file``; present ``cert_file`` (+ ``key_file``) as the client."""
    context = ssl.create_default_context(cafile=ca_file)
    try:
        context.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        raise BankIDNotConfigured(f"the certificate and key do not belong together ({exc.reason})") from None
    return context


class BankIDClient:
    def __init__(self, url: str, context: ssl.SSLContext, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(verify=context, timeout=timeout, headers={"Content-Type": "application/json"})

    @classmethod
    def from_settings(cls, settings: Settings) -> BankIDClient:
        missing = [
            name
            for name, value in (
                ("KVITT_BANKID_URL", settings.bankid_url),
                ("KVITT_BANKID_CERT", settings.bankid_cert),
                ("KVITT_BANKID_CA", settings.bankid_ca),
            )
            if not value
        ]
        if missing:
            raise BankIDNotConfigured("set " + ", ".join(missing))
        assert settings.bankid_url and settings.bankid_cert and settings.bankid_ca
        return cls(settings.bankid_url, tls_context(settings.bankid_ca, settings.bankid_cert, settings.bankid_key))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BankIDClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def sign(
        self,
        end_user_ip: str,
        user_visible_data: str,
        *,
        user_non_visible_data: str | None = None,
        markdown: bool = False,
        personal_number: str | None = None,
    ) -> StartedOrder:
        """Start a sign order; ``personal_number`` (12 digits) lets only that person sign it
        (``requirement.personalNumber``)."""
        body: dict[str, Any] = {"endUserIp": end_user_ip, "userVisibleData": encode_text(user_visible_data)}
        if user_non_visible_data:
            body["userNonVisibleData"] = encode_text(user_non_visible_data)
        if personal_number:
            body["requirement"] = {"personalNumber": personal_number}
        if markdown:
            body["userVisibleDataFormat"] = "simpleMarkdownV1"
        answer = self._post("sign", body)
        return StartedOrder(
            order_ref=answer["orderRef"],
            auto_start_token=answer["autoStartToken"],
            qr_start_token=answer["qrStartToken"],
            qr_start_secret=answer["qrStartSecret"],
        )

    def collect(self, order_ref: str) -> Collected:
        answer = self._post("collect", {"orderRef": order_ref})
        return Collected(
            order_ref=answer["orderRef"],
            status=answer["status"],
            hint_code=answer.get("hintCode"),
            completion_data=answer.get("completionData"),
        )

    def cancel(self, order_ref: str) -> None:
        self._post("cancel", {"orderRef": order_ref})

    def _post(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(f"{self.url}/{method}", json=body)
        except httpx.HTTPError as exc:
            raise BankIDError("unreachable", f"{type(exc).__name__}: {exc}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200:
            if isinstance(answer, dict) and "errorCode" in answer:
                raise BankIDError(str(answer["errorCode"]), str(answer.get("details", "")), response.status_code)
            raise BankIDError("internalError", f"HTTP {response.status_code}", response.status_code)
        if not isinstance(answer, dict):
            raise BankIDError("internalError", "the answer is no JSON object", response.status_code)
        return answer
