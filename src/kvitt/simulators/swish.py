"""A local simulator of the Swish Commerce API (payment requests and refunds), over mutual TLS.

As Getswish AB documents the API (and its Merchant Swish Simulator behaves):

- ``PUT /swish-cpcapi/api/v2/paymentrequests/{instructionUUID}`` (32 upper-case hex): JSON
  ``payeePaymentReference`` (optional, 1-35 letters/digits), ``callbackUrl`` (https),
  ``payerAlias`` (e-commerce; absent: m-commerce), ``payeeAlias``, ``amount`` (string,
  ``0.01`` .. ``999999999999.99``, two decimals at most), ``currency`` ``SEK``, ``message``
  (at most 50 characters of Swish's set). ``201`` with ``Location`` (and ``PaymentRequestToken``
  for m-commerce); ``422`` with ``[{"errorCode", "errorMessage", "additionalInformation"}]``
  naming the bad field (FF08, RP03, BE18, RP01, PA02, AM06, AM02, AM03, RP02, RP09, ACMT07).
- ``GET /swish-cpcapi/api/v1/paymentrequests/{id}``: the request with ``status`` ``CREATED``,
  ``PAID``, ``DECLINED``, ``ERROR`` or ``CANCELLED``, ``paymentReference``, ``datePaid``,
  ``errorCode``, ``errorMessage``; ``PATCH`` of the same path with a JSON patch replacing
  ``/status`` by ``cancelled`` cancels a ``CREATED`` one.
- ``PUT /swish-cpcapi/api/v2/refunds/{instructionUUID}`` (``originalPaymentReference``,
  ``callbackUrl``, ``payerAlias`` the merchant, ``amount``, ``currency``, ``message``) and
  ``GET /swish-cpcapi/api/v1/refunds/{id}``; a refund is ``PAID`` after the same moment.
- Every request must present a client certificate the simulator's CA issued (the TLS layer
  refuses the connection otherwise).

Like Swish's own simulator, a payment request ends by itself after ``pay_after`` seconds: PAID,
or, when its ``message`` is one of Swish's error codes (``RF07``, ``BANKIDCL``, ``FF08``,
``TM01``, ``BE18`` ...), DECLINED or ERROR with that code; then the request is POSTed as JSON to
its ``callbackUrl``. Unlike Swish, plain ``http://`` callback URLs on loopback are accepted (the
local Kvitt has no certificate). Test knobs: ``hold`` (requests stay CREATED until
:meth:`finish`), ``callbacks`` (False: none are posted, Kvitt must poll), ``unavailable_times``
(answer 500 first), ``paid_amount_delta`` (a PAID answer with another amount).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kvitt.formats import swish_commerce as codec
from kvitt.simulators import RunningServer

BASE = "/swish-cpcapi/api"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Certificates:
    """The files ``make_certificates`` writes: a CA, the server's and the merchant's certificates."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server(self) -> Path:
        return self.folder / "server.pem"

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.folder / "client.key"


def make_certificates(folder: Path | str) -> Certificates:
    """A test CA, a server certificate for 127.0.0.1/localhost and a merchant client certificate,
    written to ``folder`` (kept if they are there already, so Kvitt's settings stay valid)."""
    import trustme

    certs = Certificates(Path(folder))
    certs.folder.mkdir(parents=True, exist_ok=True)
    if all(p.exists() for p in (certs.ca, certs.server, certs.client_cert, certs.client_key)):
        return certs
    ca = trustme.CA(organization_name="Kvitt Swish Simulator")
    server = ca.issue_cert("127.0.0.1", "localhost", "::1")
    client = ca.issue_cert("merchant.swish.test", common_name="1231181189")
    ca.cert_pem.write_to_path(str(certs.ca))
    server.private_key_and_cert_chain_pem.write_to_path(str(certs.server))
    client.cert_chain_pems[0].write_to_path(str(certs.client_cert))
    client.private_key_pem.write_to_path(str(certs.client_key))
    return certs


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(*codes: str) -> JSONResponse:
    return JSONResponse(
        [{"errorCode": c, "errorMessage": codec.VALIDATION.get(c, c), "additionalInformation": None} for c in codes],
        status_code=422,
    )


@dataclass
class SwishSimulator:
    payee_aliases: set[str] | None = None  # None: any payee alias
    pay_after: float = 1.0
    hold: bool = False
    callbacks: bool = True
    unavailable_times: int = 0
    paid_amount_delta: int = 0  # öre added to the amount a PAID request states
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    posted: list[dict[str, Any]] = field(default_factory=list)  # callbacks: url, body, status
    fetched: list[str] = field(default_factory=list)  # the ids of every GET of a payment request
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(BASE + "/v2/paymentrequests/{id}", self.create_request, methods=["PUT"]),
                Route(BASE + "/v1/paymentrequests/{id}", self.get_request, methods=["GET"]),
                Route(BASE + "/v2/paymentrequests/{id}", self.get_request, methods=["GET"]),
                Route(BASE + "/v1/paymentrequests/{id}", self.cancel_request, methods=["PATCH"]),
                Route(BASE + "/v2/refunds/{id}", self.create_refund, methods=["PUT"]),
                Route(BASE + "/v1/refunds/{id}", self.get_refund, methods=["GET"]),
                Route(BASE + "/v2/refunds/{id}", self.get_refund, methods=["GET"]),
            ]
        )

    # --- payment requests ----------------------------------------------------------------------

    async def create_request(self, request: Request) -> Response:
        if self._unavailable():
            return JSONResponse({"error": "simulated outage"}, status_code=500)
        instruction = request.path_params["id"]
        body = await _body(request)
        if body is None:
            return JSONResponse([], status_code=400)
        problems = self._check_request(instruction, body)
        if problems:
            return _error(*problems)
        with self._lock:
            if instruction in self.requests:
                return _error("RP09")
            token = secrets.token_hex(16) if not body.get("payerAlias") else None
            self.requests[instruction] = {
                "id": instruction,
                "payeePaymentReference": body.get("payeePaymentReference"),
                "paymentReference": None,
                "callbackUrl": body["callbackUrl"],
                "payerAlias": body.get("payerAlias"),
                "payeeAlias": body["payeeAlias"],
                "amount": str(body["amount"]),
                "currency": "SEK",
                "message": body.get("message") or "",
                "status": "CREATED",
                "dateCreated": _now(),
                "datePaid": None,
                "errorCode": None,
                "errorMessage": None,
            }
        headers = {"Location": f"{request.base_url}{BASE.lstrip('/')}/v1/paymentrequests/{instruction}"}
        if token:
            headers["PaymentRequestToken"] = token
        if not self.hold:
            asyncio.get_running_loop().create_task(self._end_later(instruction))
        return Response(status_code=201, headers=headers)

    def _check_request(self, instruction: str, body: dict[str, Any]) -> list[str]:
        problems = []
        if not codec.instruction_ok(instruction):
            problems.append("RP09")
        reference = body.get("payeePaymentReference")
        if reference is not None and not (isinstance(reference, str) and codec.reference_ok(reference)):
            problems.append("FF08")
        if not _callback_ok(body.get("callbackUrl")):
            problems.append("RP03")
        payer = body.get("payerAlias")
        if payer is not None and not (isinstance(payer, str) and codec.alias_ok(payer)):
            problems.append("BE18")
        payee = body.get("payeeAlias")
        if not payee:
            problems.append("RP01")
        elif self.payee_aliases is not None and payee not in self.payee_aliases:
            problems.append("ACMT07")
        problems += _amount_problems(body.get("amount"))
        if body.get("currency") != "SEK":
            problems.append("AM03")
        message = body.get("message")
        if message is not None and not (isinstance(message, str) and codec.message_ok(message)):
            problems.append("RP02")
        return problems

    async def get_request(self, request: Request) -> Response:
        if self._unavailable():
            return JSONResponse({"error": "simulated outage"}, status_code=500)
        found = self.requests.get(request.path_params["id"])
        self.fetched.append(request.path_params["id"])
        if found is None:
            return JSONResponse([{"errorCode": "RP04", "errorMessage": "No payment request found"}], status_code=404)
        return _object(found)

    async def cancel_request(self, request: Request) -> Response:
        found = self.requests.get(request.path_params["id"])
        if found is None:
            return JSONResponse([{"errorCode": "RP04", "errorMessage": "No payment request found"}], status_code=404)
        patch = await _body(request, allow_list=True)
        wanted = isinstance(patch, list) and any(
            p.get("op") == "replace" and p.get("path") == "/status" and p.get("value") == "cancelled"
            for p in patch
            if isinstance(p, dict)
        )
        if not wanted:
            return JSONResponse([{"errorCode": "RP02", "errorMessage": "Wrong patch"}], status_code=422)
        with self._lock:
            if found["status"] != "CREATED":
                return JSONResponse([{"errorCode": "RP07", "errorMessage": "Not cancellable"}], status_code=422)
            found["status"] = "CANCELLED"
        return _object(found)

    def finish(self, instruction: str, status: str = "PAID", error_code: str | None = None) -> dict[str, Any]:
        """End a request now (tests; also what ``_end_later`` does after ``pay_after``)."""
        with self._lock:
            found = self.requests[instruction]
            if found["status"] != "CREATED":
                return found
            if status == "PAID":
                found["paymentReference"] = secrets.token_hex(16).upper()
                found["datePaid"] = _now()
                if self.paid_amount_delta:
                    ore = codec.parse_amount(found["amount"]) + self.paid_amount_delta
                    found["amount"] = codec.amount_text(ore)
            else:
                found["errorCode"] = error_code
                found["errorMessage"] = codec.ERRORS.get(error_code or "", ("", "", error_code or ""))[2]
            found["status"] = status
            return found

    async def _end_later(self, instruction: str) -> None:
        await asyncio.sleep(self.pay_after)
        message = self.requests[instruction]["message"].strip().upper()
        if message in codec.ERRORS:
            status = "DECLINED" if codec.ERRORS[message][0] == "declined" else "ERROR"
            found = self.finish(instruction, status, message)
        else:
            found = self.finish(instruction)
        if self.callbacks:
            await self._post(found["callbackUrl"], found)

    async def _post(self, url: str, body: dict[str, Any]) -> None:
        outcome: dict[str, Any] = {"url": url, "body": dict(body)}
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(url, content=_dumps(body), headers={"Content-Type": "application/json"})
            outcome["status"] = response.status_code
        except httpx.HTTPError as exc:
            outcome["error"] = str(exc)
        with self._lock:
            self.posted.append(outcome)

    # --- refunds -----------------------------------------------------------------------------------

    async def create_refund(self, request: Request) -> Response:
        if self._unavailable():
            return JSONResponse({"error": "simulated outage"}, status_code=500)
        instruction = request.path_params["id"]
        body = await _body(request)
        if body is None:
            return JSONResponse([], status_code=400)
        problems = [] if codec.instruction_ok(instruction) else ["RP09"]
        original = next(
            (r for r in self.requests.values() if r["paymentReference"] == body.get("originalPaymentReference")), None
        )
        if original is None or original["status"] != "PAID":
            problems.append("RF02")
        elif body.get("payerAlias") != original["payeeAlias"]:
            problems.append("RF03")
        problems += _amount_problems(body.get("amount"))
        if not problems and original is not None:
            refunded = sum(
                codec.parse_amount(r["amount"])
                for r in self.refunds.values()
                if r["originalPaymentReference"] == original["paymentReference"]
            )
            if refunded + codec.parse_amount(body["amount"]) > codec.parse_amount(original["amount"]):
                problems.append("RF04")
        if not _callback_ok(body.get("callbackUrl")):
            problems.append("RP03")
        if problems:
            return _error(*problems)
        with self._lock:
            if instruction in self.refunds:
                return _error("RP09")
            self.refunds[instruction] = {
                "id": instruction,
                "paymentReference": None,
                "payerPaymentReference": body.get("payerPaymentReference"),
                "originalPaymentReference": body["originalPaymentReference"],
                "callbackUrl": body["callbackUrl"],
                "payerAlias": body["payerAlias"],
                "payeeAlias": original["payerAlias"] if original else None,
                "amount": str(body["amount"]),
                "currency": "SEK",
                "message": body.get("message") or "",
                "status": "CREATED",
                "dateCreated": _now(),
                "datePaid": None,
                "errorCode": None,
                "errorMessage": None,
            }
        if not self.hold:
            asyncio.get_running_loop().create_task(self._refund_later(instruction))
        location = f"{request.base_url}{BASE.lstrip('/')}/v1/refunds/{instruction}"
        return Response(status_code=201, headers={"Location": location})

    async def _refund_later(self, instruction: str) -> None:
        await asyncio.sleep(self.pay_after)
        with self._lock:
            found = self.refunds[instruction]
            found["status"] = "PAID"
            found["paymentReference"] = secrets.token_hex(16).upper()
            found["datePaid"] = _now()
        if self.callbacks:
            await self._post(found["callbackUrl"], found)

    async def get_refund(self, request: Request) -> Response:
        found = self.refunds.get(request.path_params["id"])
        if found is None:
            return JSONResponse([{"errorCode": "RF04", "errorMessage": "No refund found"}], status_code=404)
        return _object(found)

    def _unavailable(self) -> bool:
        with self._lock:
            if self.unavailable_times > 0:
                self.unavailable_times -= 1
                return True
        return False


def _amount_problems(amount: Any) -> list[str]:
    if not isinstance(amount, str):
        return ["PA02"]
    if re.fullmatch(r"[0-9]{13,}(\.[0-9]{1,2})?", amount):
        return ["AM02"]
    if not codec.amount_ok(amount):
        return ["PA02"]
    return ["AM06"] if codec.parse_amount(amount) < 100 else []


def _callback_ok(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


async def _body(request: Request, *, allow_list: bool = False) -> Any:
    try:
        data = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) or (allow_list and isinstance(data, list)) else None


def _dumps(found: dict[str, Any]) -> str:
    """Swish writes ``amount`` as a JSON number with two decimals (``431.00``)."""
    body = {**found, "amount": "__AMOUNT__"}
    return json.dumps(body).replace('"__AMOUNT__"', found["amount"])


def _object(found: dict[str, Any]) -> Response:
    return Response(_dumps(found), media_type="application/json")


def serve_tls(app: Any, certs: Certificates, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` over TLS on loopback, demanding a client certificate from ``certs.ca``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        ssl_certfile=str(certs.server),
        ssl_ca_certs=str(certs.ca),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the Swish simulator on {host}:{bound} did not start")
        time.sleep(0.01)
    return RunningServer(f"https://{host}:{bound}", server, thread)


def settings_for(server: RunningServer, certs: Certificates, payee_alias: str = "1231181189") -> dict[str, str]:
    """The KVITT_SWISH_* settings that point Kvitt at a running simulator."""
    return {
        "KVITT_SWISH_URL": server.url,
        "KVITT_SWISH_CERT": str(certs.client_cert),
        "KVITT_SWISH_KEY": str(certs.client_key),
        "KVITT_SWISH_CA": str(certs.ca),
        "KVITT_SWISH_PAYEE_ALIAS": payee_alias,
    }
