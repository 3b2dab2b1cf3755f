"""The access point simulator's API (docs/delivery.md) over HTTP, with UBL from documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kvitt.core.db import Database
from kvitt.documents.ubl import invoice_ubl
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.peppol_ap import AccessPointSimulator
from tests.conftest import Api

SENDER, RECEIVER = "0007:5560360793", "0007:5560160680"


@pytest.fixture
def ap() -> Iterator[tuple[AccessPointSimulator, RunningServer]]:
    simulator = AccessPointSimulator(keys={"k"}, unreachable_receivers={"0007:5567654321"})
    with serve_in_thread(simulator.app()) as server:
        yield simulator, server


@pytest.fixture
def ubl(api: Api, db: Database) -> bytes:
    body = {"customer_no": "1", "name": "Fjällström Energi AB", "type": "company", "id_number": "556016-0680"}
    customer = api.post("/customers", body).json()
    lines = [{"description": "El", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    api.post(f"/invoices/{draft['id']}/issue")
    with db.transaction() as session:
        return invoice_ubl(session, api.tenant_id, draft["id"])


def post(server: RunningServer, body: bytes, **headers: str) -> httpx.Response:
    base = {
        "Authorization": "Bearer k",
        "Content-Type": "application/xml",
        "X-Peppol-Sender": SENDER,
        "X-Peppol-Receiver": RECEIVER,
        "X-Document-Id": "doc-1",
    }
    return httpx.post(f"{server.url}/v1/documents", content=body, headers={**base, **headers})


def test_accepts_peppol_ubl_once_per_document_id_and_reports_delivery(
    ap: tuple[AccessPointSimulator, RunningServer], ubl: bytes
) -> None:
    _, server = ap
    first = post(server, ubl)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    again = post(server, ubl)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    status = httpx.get(f"{server.url}/v1/documents/{first.json()['id']}", headers={"Authorization": "Bearer k"})
    assert status.json()["status"] == "delivered"
    listed = httpx.get(f"{server.url}/v1/documents", headers={"Authorization": "Bearer k"}).json()["data"]
    assert [d["id"] for d in listed] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (lambda u, h: (b"not xml", h), 400, "not well-formed XML"),
        (lambda u, h: (b"<Order xmlns='urn:x'/>", h), 400, "not a UBL 2.1 Invoice or CreditNote"),
        (lambda u, h: (u.replace(b"poacc:billing:3.0", b"poacc:billing:2.0"), h), 400, "CustomizationID"),
        (lambda u, h: (u, {**h, "X-Peppol-Receiver": "0007:5569999999"}), 400, "AccountingCustomerParty EndpointID"),
        (lambda u, h: (u, {**h, "X-Peppol-Sender": "0007:5569999999"}), 400, "AccountingSupplierParty EndpointID"),
        (lambda u, h: (u, {**h, "Content-Type": "text/plain"}), 415, "application/xml"),
        (lambda u, h: (u, {**h, "Authorization": "Bearer nope"}), 401, "key"),
        (lambda u, h: (u, {**h, "X-Document-Id": ""}), 400, "X-Document-Id"),
    ],
)
def test_refuses_what_an_access_point_would_not_transmit(
    ap: tuple[AccessPointSimulator, RunningServer], ubl: bytes, change: Any, status: int, message: str
) -> None:
    _, server = ap
    body, headers = change(ubl, {})
    response = post(server, body, **headers)
    assert response.status_code == status and message in response.json()["error"]


def test_an_entity_in_the_document_is_not_expanded(ap: tuple[AccessPointSimulator, RunningServer]) -> None:
    _, server = ap
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    response = post(server, evil)
    assert response.status_code == 400 and "root element x" in response.json()["error"]
    assert "root:x:0:0" not in response.text


def test_unknown_and_unreachable_receivers(ap: tuple[AccessPointSimulator, RunningServer], ubl: bytes) -> None:
    simulator, server = ap
    simulator.known_receivers = {"0007:5560000000"}
    response = post(server, ubl)
    assert response.status_code == 404 and "not registered" in response.json()["error"]
