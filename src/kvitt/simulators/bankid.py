"""A local simulator of BankID's Relying Party API v6 (the test environment's API), as an ASGI app.

Served over mutual TLS by :func:`serve` and ``kvitt simulate bankid --port P --certs DIR``: the
relying party must present a client certificate issued by the simulator's test CA (made with
``trustme`` into DIR), as BankID demands of every relying party.

What it implements, as BankID documents it (``/rp/v6.0/...``, JSON in and out):

- ``auth`` and ``sign``: ``endUserIp`` (an IPv4 or IPv6 address), for ``sign`` ``userVisibleData``
  (base64 of UTF-8 text, at most 40,000 characters), optional ``userNonVisibleData`` (base64, at
  most 200,000), ``userVisibleDataFormat`` (``simpleMarkdownV1``), ``requirement``
  (``personalNumber``: 12 digits, a valid personnummer), ``returnUrl``. Answers ``orderRef``,
  ``autoStartToken``, ``qrStartToken``, ``qrStartSecret``.
- ``collect``: ``orderRef`` → ``{"orderRef", "status": "pending"|"failed"|"complete", "hintCode"}``;
  on ``complete`` the ``completionData``: ``user`` (``personalNumber``, ``name``, ``givenName``,
  ``surname``), ``device`` (``ipAddress``, ``uhi``), ``bankIdIssueDate``, ``stepUp``,
  ``signature`` and ``ocspResponse`` (base64). A finished order is answered once more with its
  result for ``RESULT_KEPT_SECONDS``, then it is gone (``invalidParameters``, as for any unknown
  order).
- ``cancel``: ``orderRef`` → ``{}``; the order is gone.
- Errors as ``{"errorCode", "details"}``: 400 ``invalidParameters`` (a missing or bad parameter,
  an unknown order), 400 ``alreadyInProgress`` (an order for the same ``requirement.personalNumber``
  is pending: both are ended, the older one fails with ``cancelled``), 404 ``notFound``,
  405 ``methodNotAllowed``, 415 ``unsupportedMediaType``, 503 ``maintenance`` (``unavailable_times``).

How an order goes (``complete_after`` seconds, 3 by default): ``pending``/``outstandingTransaction``
for the first third (the app has not started the order), ``pending``/``userSign`` until
``complete_after``, then ``complete``, or ``failed`` with the hint code chosen for it. Who signs
and how it ends is chosen, first match wins:

1. ``POST /sim/next`` (a simulator-only call, same mutual TLS) ``{"personalNumber", "name",
   "hintCode"}`` (each optional) queues the outcome of the next order started: a relying party
   that signs without naming the person (the web invoice) cannot choose otherwise.
2. ``userVisibleData`` whose text holds ``#<hintCode>`` for a failure hint code: ``#userCancel``,
   ``#expiredTransaction``, ``#startFailed``, ``#certificateErr``.
3. ``requirement.personalNumber`` whose serial (the three digits before the check digit) is
   ``990`` → ``userCancel``, ``991`` → ``expiredTransaction``, ``992`` → ``startFailed``,
   ``993`` → ``certificateErr`` (e.g. ``198506159907``); any other valid personnummer signs.
4. Otherwise the simulator's default test user (``DEFAULT_USER``) signs.

``startFailed`` and ``expiredTransaction`` stay ``outstandingTransaction`` (the app never took
the order) until they fail. The ``signature`` is base64 of an XML document in the shape of
BankID's (``bankIdSignedData`` with ``usrVisibleData``, ``usrNonVisibleData``, ``srvInfo``), its
``SignatureValue`` an HMAC of the simulator, not a verifiable XML signature; ``ocspResponse`` is
base64 of a stand-in naming the signer's certificate as ``good``. Neither is valid for BankID's
production checks: they are evidence-shaped data for tests and the demo.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PREFIX = "/rp/v6.0"
RESULT_KEPT_SECONDS = 60.0
FAILURE_HINTS = ("userCancel", "expiredTransaction", "startFailed", "certificateErr")
SERIAL_HINTS = {"990": "userCancel", "991": "expiredTransaction", "992": "startFailed", "993": "certificateErr"}
NEVER_STARTED = frozenset({"startFailed", "expiredTransaction"})
DEFAULT_USER = ("199001012393", "Tess Testsson")
_PERSONAL_NUMBER = re.compile(r"^(19|20)\d{10}$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(digits):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value // 10 + value % 10
    return total % 10 == 0


def valid_personal_number(value: str) -> bool:
    """12 digits: a real date (or a samordningsnummer's day + 60) and the Luhn check over the last 10."""
    if not _PERSONAL_NUMBER.match(value):
        return False
    day = int(value[6:8])
    try:
        date(int(value[:4]), int(value[4:6]), day - 60 if day > 60 else day)
    except ValueError:
        return False
    return luhn_ok(value[2:])


@dataclass
class Outcome:
    personal_number: str
    name: str
    hint_code: str | None = None  # a failure hint code, or None: the order completes


@dataclass
class Order:
    ref: str
    kind: str
    end_user_ip: str
    visible: str
    non_visible: str
    outcome: Outcome
    started: float
    auto_start_token: str = field(default_factory=lambda: str(uuid.uuid4()))
    qr_start_token: str = field(default_factory=lambda: str(uuid.uuid4()))
    qr_start_secret: str = field(default_factory=lambda: str(uuid.uuid4()))
    ended: str | None = None  # a failure hint code set from outside (cancelled by a newer order)
    finished_at: float | None = None
    completion: dict[str, Any] | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, details: str) -> None:
        super().__init__(details)
        self.status, self.code, self.details = status, code, details


def _invalid(details: str) -> ApiError:
    return ApiError(400, "invalidParameters", details)


@dataclass
class BankIDSimulator:
    complete_after: float = 3.0
    default_user: tuple[str, str] = DEFAULT_USER
    unavailable_times: int = 0
    clock: Any = time.monotonic
    orders: dict[str, Order] = field(default_factory=dict)
    queued: list[Outcome] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        routes = [Route(f"{PREFIX}/{name}", self._endpoint(name), methods=["POST"]) for name in self._methods()]
        routes.append(Route("/sim/next", self.queue_next, methods=["POST"]))
        return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})

    def _methods(self) -> dict[str, Any]:
        return {"auth": self.auth, "sign": self.sign, "collect": self.collect, "cancel": self.cancel}

    def _endpoint(self, name: str) -> Any:
        method = self._methods()[name]

        async def endpoint(request: Request) -> Response:
            try:
                body = await _json_body(request)
                with self._lock:
                    self.requests.append((name, body))
                    if self.unavailable_times > 0:
                        self.unavailable_times -= 1
                        raise ApiError(503, "maintenance", "The service is under maintenance")
                    return JSONResponse(method(body))
            except ApiError as exc:
                return JSONResponse({"errorCode": exc.code, "details": exc.details}, status_code=exc.status)

        return endpoint

    # --- RP API v6 -------------------------------------------------------------------------

    def auth(self, body: dict[str, Any]) -> dict[str, str]:
        return self._start("auth", body)

    def sign(self, body: dict[str, Any]) -> dict[str, str]:
        if "userVisibleData" not in body:
            raise _invalid("userVisibleData is required")
        return self._start("sign", body)

    def _start(self, kind: str, body: dict[str, Any]) -> dict[str, str]:
        ip = body.get("endUserIp")
        if not isinstance(ip, str) or not _is_ip(ip):
            raise _invalid("Invalid endUserIp")
        visible = _decoded(body, "userVisibleData", 40_000)
        non_visible = _decoded(body, "userNonVisibleData", 200_000)
        if body.get("userVisibleDataFormat") not in (None, "simpleMarkdownV1"):
            raise _invalid("Invalid userVisibleDataFormat")
        requirement = body.get("requirement") or {}
        if not isinstance(requirement, dict):
            raise _invalid("Invalid requirement")
        named = requirement.get("personalNumber")
        if named is not None and (not isinstance(named, str) or not valid_personal_number(named)):
            raise _invalid("Invalid personalNumber")
        if named is not None:
            self._refuse_second_order(named)
        order = Order(
            ref=str(uuid.uuid4()),
            kind=kind,
            end_user_ip=ip,
            visible=visible,
            non_visible=non_visible,
            outcome=self._outcome(visible, named),
            started=self.clock(),
        )
        self.orders[order.ref] = order
        return {
            "orderRef": order.ref,
            "autoStartToken": order.auto_start_token,
            "qrStartToken": order.qr_start_token,
            "qrStartSecret": order.qr_start_secret,
        }

    def _refuse_second_order(self, personal_number: str) -> None:
        for order in self.orders.values():
            if order.outcome.personal_number == personal_number and self._status(order)[0] == "pending":
                order.ended = "cancelled"
                order.finished_at = self.clock()
                raise ApiError(400, "alreadyInProgress", "Order already in progress for pno")

    def _outcome(self, visible: str, named: str | None) -> Outcome:
        if self.queued:
            queued = self.queued.pop(0)
            return Outcome(named or queued.personal_number, queued.name, queued.hint_code)
        hint = next((code for code in FAILURE_HINTS if f"#{code}" in visible), None)
        if named is not None:
            hint = hint or SERIAL_HINTS.get(named[8:11])
            return Outcome(named, self.default_user[1] if named == self.default_user[0] else "Test Person", hint)
        return Outcome(self.default_user[0], self.default_user[1], hint)

    def collect(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self._order(body)
        status, hint = self._status(order)
        answer: dict[str, Any] = {"orderRef": order.ref, "status": status}
        if status == "complete":
            answer["completionData"] = self._completion(order)
        else:
            answer["hintCode"] = hint
        if status != "pending":
            order.finished_at = order.finished_at or self.clock()
        return answer

    def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self._order(body)
        del self.orders[order.ref]
        return {}

    def _order(self, body: dict[str, Any]) -> Order:
        ref = body.get("orderRef")
        if not isinstance(ref, str):
            raise _invalid("orderRef is required")
        self._forget_old()
        order = self.orders.get(ref)
        if order is None:
            raise _invalid("No such order")
        return order

    def _forget_old(self) -> None:
        now = self.clock()
        for ref in [r for r, o in self.orders.items() if o.finished_at and now - o.finished_at > RESULT_KEPT_SECONDS]:
            del self.orders[ref]

    def _status(self, order: Order) -> tuple[str, str | None]:
        if order.ended:
            return "failed", order.ended
        elapsed = self.clock() - order.started
        hint = order.outcome.hint_code
        if elapsed < self.complete_after / 3 or (hint in NEVER_STARTED and elapsed < self.complete_after):
            return "pending", "outstandingTransaction"
        if elapsed < self.complete_after:
            return "pending", "userSign"
        if hint:
            return "failed", hint
        return "complete", None

    def _completion(self, order: Order) -> dict[str, Any]:
        if order.completion is None:
            person = order.outcome
            given, _, surname = person.name.partition(" ")
            order.completion = {
                "user": {
                    "personalNumber": person.personal_number,
                    "name": person.name,
                    "givenName": given,
                    "surname": surname,
                },
                "device": {"ipAddress": order.end_user_ip, "uhi": hashlib.sha256(order.ref.encode()).hexdigest()[:28]},
                "bankIdIssueDate": "2024-01-15",
                "stepUp": {"mrtd": False},
                "signature": self._signature(order),
                "ocspResponse": base64.b64encode(
                    f"kvitt-bankid-simulator OCSP certStatus=good subject=serialNumber={person.personal_number} "
                    f"producedAt={datetime.now(UTC).isoformat(timespec='seconds')}".encode()
                ).decode(),
            }
        return order.completion

    def _signature(self, order: Order) -> str:
        signed = (
            '<bankIdSignedData xmlns="http://www.bankid.com/signature/v1.0.0/types" Id="bidSignedData">'
            f'<usrVisibleData charset="UTF-8" visible="wysiwys">{_b64(order.visible)}</usrVisibleData>'
            f"<usrNonVisibleData>{_b64(order.non_visible)}</usrNonVisibleData>"
            f"<srvInfo><name>kvitt-bankid-simulator</name><nonce>{_b64(order.ref)}</nonce></srvInfo>"
            f"<clientInfo><funcId>Signing</funcId><host><ipAddress>{order.end_user_ip}</ipAddress></host></clientInfo>"
            "</bankIdSignedData>"
        )
        value = base64.b64encode(hmac.new(self._secret, signed.encode(), hashlib.sha256).digest()).decode()
        document = (
            '<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
            '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">'
            f"<SignatureValue>{value}</SignatureValue><Object>{signed}</Object></Signature>"
        )
        return _b64(document)

    # --- simulator control (not part of BankID's API) ---------------------------------------

    async def queue_next(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            hint = body.get("hintCode")
            if hint is not None and hint not in FAILURE_HINTS:
                raise _invalid(f"hintCode: one of {', '.join(FAILURE_HINTS)}")
            number = body.get("personalNumber", self.default_user[0])
            if not isinstance(number, str) or not valid_personal_number(number):
                raise _invalid("Invalid personalNumber")
            name = str(body.get("name") or (self.default_user[1] if number == self.default_user[0] else "Test Person"))
        except ApiError as exc:
            return JSONResponse({"errorCode": exc.code, "details": exc.details}, status_code=exc.status)
        with self._lock:
            self.queued.append(Outcome(number, name, hint))
        return JSONResponse({"queued": len(self.queued)})


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "unsupportedMediaType", "Content-Type must be application/json")
    try:
        body = await request.json()
    except ValueError:
        raise _invalid("The body is not JSON") from None
    if not isinstance(body, dict):
        raise _invalid("The body must be a JSON object")
    return body


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    code = {404: "notFound", 405: "methodNotAllowed"}.get(status, "internalError")
    return JSONResponse({"errorCode": code, "details": code}, status_code=status)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _decoded(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _invalid(f"Invalid {name}")
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid(f"Invalid {name}: not base64 of UTF-8 text") from None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# --- certificates and serving ---------------------------------------------------------------


@dataclass(frozen=True)
class CertFiles:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server(self) -> Path:
        return self.folder / "server.pem"  # the server's key and certificate chain

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.folder / "client.key"

    def exist(self) -> bool:
        return all(p.is_file() for p in (self.ca, self.server, self.client_cert, self.client_key))


def make_certs(folder: str | Path) -> CertFiles:
    """A test CA, a server certificate for 127.0.0.1/localhost and a relying party's client
    certificate in ``folder`` (made with trustme; kept when they are there already)."""
    import trustme

    files = CertFiles(Path(folder))
    if files.exist():
        return files
    files.folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Kvitt BankID simulator test CA")
    ca.cert_pem.write_to_path(str(files.ca))
    server = ca.issue_cert("127.0.0.1", "localhost", "::1", common_name="kvitt-bankid-simulator")
    server.private_key_and_cert_chain_pem.write_to_path(str(files.server))
    client = ca.issue_cert("kvitt-relying-party.test", common_name="Kvitt relying party (test)")
    for blob in client.cert_chain_pems:
        blob.write_to_path(str(files.client_cert), append=True)
    client.private_key_pem.write_to_path(str(files.client_key))
    files.client_key.chmod(0o600)
    return files


def tls_options(files: CertFiles) -> dict[str, Any]:
    """uvicorn's TLS settings: the server certificate, and a client certificate from the CA demanded."""
    return {
        "ssl_certfile": str(files.server),
        "ssl_ca_certs": str(files.ca),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }


def settings_for(url: str, files: CertFiles) -> dict[str, str]:
    """The ``KVITT_BANKID_*`` settings that point Kvitt at a simulator at ``url`` (https://host:port)."""
    return {
        "KVITT_BANKID_URL": f"{url}{PREFIX}",
        "KVITT_BANKID_CERT": str(files.client_cert.absolute()),
        "KVITT_BANKID_KEY": str(files.client_key.absolute()),
        "KVITT_BANKID_CA": str(files.ca.absolute()),
    }
