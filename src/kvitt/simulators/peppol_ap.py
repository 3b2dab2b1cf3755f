"""A local Peppol access point simulator with Kvitt's access point API (docs/delivery.md).

``POST /v1/documents`` (``Authorization: Bearer <key>``, ``Content-Type: application/xml``,
``X-Peppol-Sender``, ``X-Peppol-Receiver``, ``X-Document-Id``; body: the UBL document):

- ``401`` without a known key; ``415`` for another content type;
- ``400 {"error"}`` unless the body is a UBL 2.1 ``Invoice`` or ``CreditNote`` declaring
  Peppol BIS Billing 3.0 (CustomizationID and ProfileID) whose seller and buyer endpoint ids
  (``cbc:EndpointID`` with ``schemeID``) are the sender and receiver named in the headers;
- ``404 {"error"}`` when the receiver is not registered in the (simulated) network;
- ``202 {"id", "status": "accepted"}``; the same sender and ``X-Document-Id`` again:
  ``200`` with the first submission (nothing is sent twice).

``GET /v1/documents/{id}``: ``{"id", "status", "error", "receiver", "document_id"}``; an
accepted document is ``delivered`` when next asked, or ``failed`` when its receiver is in
``unreachable_receivers`` (the receiving access point did not take it).
``GET /v1/documents``: every document received, ``{"data": [...]}`` (for tests and demos).

It checks what a sending access point checks before transmitting, not the whole of
Peppol BIS (the UBL is validated against the XSD and Schematron in tests/documents).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": "Invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": "CreditNote",
}
BIS3_CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
BIS3_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
MAX_BYTES = 10 * 1024 * 1024


@dataclass
class AccessPointSimulator:
    keys: set[str] = field(default_factory=lambda: {"sim-ap-key"})
    known_receivers: set[str] | None = None  # None: every receiver is registered
    unreachable_receivers: set[str] = field(default_factory=set)
    unavailable_times: int = 0  # answer 503 this many times first
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/documents", self.receive, methods=["POST"]),
                Route("/v1/documents", self.list_documents, methods=["GET"]),
                Route("/v1/documents/{doc_id}", self.status, methods=["GET"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and any(secrets.compare_digest(key, known) for known in self.keys)

    async def receive(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "missing or unknown access point key")
        with self._lock:
            if self.unavailable_times > 0:
                self.unavailable_times -= 1
                return _error(503, "access point temporarily unavailable")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/xml":
            return _error(415, "send the UBL document as application/xml")
        sender = request.headers.get("x-peppol-sender", "")
        receiver = request.headers.get("x-peppol-receiver", "")
        document_id = request.headers.get("x-document-id", "")
        if not (sender and receiver and document_id):
            return _error(400, "X-Peppol-Sender, X-Peppol-Receiver and X-Document-Id are required")
        with self._lock:
            for doc in self.documents.values():
                if doc["sender"] == sender and doc["document_id"] == document_id:
                    return JSONResponse(_public(doc), status_code=200)
        body = await request.body()
        if len(body) > MAX_BYTES:
            return _error(413, "document too large")
        problem, kind = check_ubl(body, sender=sender, receiver=receiver)
        if problem:
            return _error(400, problem)
        if self.known_receivers is not None and receiver not in self.known_receivers:
            return _error(404, f"receiver {receiver} is not registered in the Peppol network")
        doc = {
            "id": "ap-" + secrets.token_hex(12),
            "status": "accepted",
            "error": None,
            "type": kind,
            "sender": sender,
            "receiver": receiver,
            "document_id": document_id,
            "xml": body.decode("utf-8"),
        }
        with self._lock:
            self.documents[doc["id"]] = doc
        return JSONResponse(_public(doc), status_code=202)

    async def status(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "missing or unknown access point key")
        with self._lock:
            doc = self.documents.get(request.path_params["doc_id"])
            if doc is None:
                return _error(404, "no such document")
            if doc["status"] == "accepted":  # the simulated transmission happens now
                if doc["receiver"] in self.unreachable_receivers:
                    doc["status"], doc["error"] = "failed", "the receiver's access point did not accept the document"
                else:
                    doc["status"] = "delivered"
            return JSONResponse(_public(doc))

    async def list_documents(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "missing or unknown access point key")
        with self._lock:
            return JSONResponse({"data": [_public(d) for d in self.documents.values()]})


def check_ubl(body: bytes, *, sender: str, receiver: str) -> tuple[str | None, str | None]:
    """(problem, document type): what the access point refuses before transmitting."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        return f"not well-formed XML: {exc}", None
    kind = ROOTS.get(root.tag)
    if kind is None:
        return f"not a UBL 2.1 Invoice or CreditNote (root element {root.tag})", None
    customization = root.findtext(f"{{{CBC}}}CustomizationID")
    if customization != BIS3_CUSTOMIZATION:
        return f"CustomizationID is not Peppol BIS Billing 3.0: {customization!r}", kind
    profile = root.findtext(f"{{{CBC}}}ProfileID")
    if profile != BIS3_PROFILE:
        return f"ProfileID is not the Peppol billing profile: {profile!r}", kind
    for role, expected in (("AccountingSupplierParty", sender), ("AccountingCustomerParty", receiver)):
        endpoint = root.find(f"{{{CAC}}}{role}/{{{CAC}}}Party/{{{CBC}}}EndpointID")
        if endpoint is None:
            return f"{role} has no EndpointID", kind
        found = f"{endpoint.get('schemeID')}:{(endpoint.text or '').strip()}"
        if found != expected:
            return f"{role} EndpointID {found} is not {expected} from the headers", kind
    return None, kind


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "xml"}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(**options: Any) -> Starlette:
    """The simulator as an ASGI app (``uvicorn kvitt.simulators.peppol_ap:app``)."""
    return AccessPointSimulator(**options).app()


app = create_app()
