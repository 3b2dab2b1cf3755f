"""The Swish simulator behaves as Swish's Commerce API documents, over real mutual TLS."""

from __future__ import annotations

import json
import ssl
import uuid
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kvitt.checkout.swish import READ_PAYMENT_REQUESTS, tls_context
from kvitt.simulators import serve_in_thread
from kvitt.simulators.swish import Certificates
from tests.checkout.conftest import SwishRig, wait_for

PUT = "/swish-cpcapi/api/v2/paymentrequests/"


def body(**fields: Any) -> dict[str, Any]:
    return {
        "payeePaymentReference": "298463",
        "callbackUrl": "https://kvitt.test/callbacks/swish",
        "payerAlias": "46701234567",
        "payeeAlias": "1231181189",
        "amount": "431.00",
        "currency": "SEK",
        "message": "Faktura 2984 Norrsken",
        **fields,
    }


def instruction() -> str:
    return uuid.uuid4().hex.upper()


def http(rig: SwishRig) -> httpx.Client:
    context = tls_context(str(rig.certs.client_cert), str(rig.certs.client_key), str(rig.certs.ca))
    return httpx.Client(base_url=rig.server.url, verify=context)


def test_a_request_is_created_then_paid_by_itself_and_called_back(swish: SwishRig) -> None:
    received: list[dict[str, Any]] = []

    async def callback(request: Request) -> PlainTextResponse:
        received.append(json.loads(await request.body()))
        return PlainTextResponse("OK")

    with serve_in_thread(Starlette(routes=[Route("/cb", callback, methods=["POST"])])) as receiver:
        ident = instruction()
        with http(swish) as client:
            made = client.put(PUT + ident, json=body(callbackUrl=f"{receiver.url}/cb"))
            assert made.status_code == 201, made.text
            assert made.headers["Location"].endswith(f"/swish-cpcapi/api/v1/paymentrequests/{ident}")
            assert "PaymentRequestToken" not in made.headers
            first = client.get(READ_PAYMENT_REQUESTS + ident).json()
            assert first["status"] in ("CREATED", "PAID")
            wait_for(lambda: received)
            final = client.get(READ_PAYMENT_REQUESTS + ident).json()
    assert received[0]["id"] == ident and received[0]["status"] == "PAID"
    assert final["status"] == "PAID" and len(final["paymentReference"]) == 32 and final["datePaid"]
    assert final["amount"] == 431.0 and final["payeePaymentReference"] == "298463"


def test_m_commerce_answers_a_payment_request_token(swish: SwishRig) -> None:
    fields = body()
    del fields["payerAlias"]
    with http(swish) as client:
        made = client.put(PUT + instruction(), json=fields)
    assert made.status_code == 201 and len(made.headers["PaymentRequestToken"]) == 32


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"payeePaymentReference": "OCR med mellanslag"}, "FF08"),
        ({"payeePaymentReference": "1" * 36}, "FF08"),
        ({"callbackUrl": "http://kvitt.example/callbacks/swish"}, "RP03"),
        ({"payerAlias": "0701234567"}, "BE18"),
        ({"payeeAlias": ""}, "RP01"),
        ({"amount": "431.005"}, "PA02"),
        ({"amount": 431}, "PA02"),
        ({"amount": "0.50"}, "AM06"),
        ({"amount": "1000000000000.00"}, "AM02"),
        ({"currency": "EUR"}, "AM03"),
        ({"message": "x" * 51}, "RP02"),
        ({"message": "Faktura #12 & co"}, "RP02"),
    ],
)
def test_bad_fields_are_refused_with_swishs_error_codes(swish: SwishRig, fields: dict[str, Any], code: str) -> None:
    with http(swish) as client:
        answer = client.put(PUT + instruction(), json=body(**fields))
    assert answer.status_code == 422
    assert [e["errorCode"] for e in answer.json()] == [code]


def test_an_instruction_id_is_32_upper_case_hex_and_used_once(swish: SwishRig) -> None:
    ident = instruction()
    with http(swish) as client:
        assert client.put(PUT + ident.lower(), json=body()).json()[0]["errorCode"] == "RP09"
        assert client.put(PUT + ident, json=body()).status_code == 201
        again = client.put(PUT + ident, json=body())
    assert again.status_code == 422 and again.json()[0]["errorCode"] == "RP09"


@pytest.mark.parametrize(
    ("message", "status"), [("RF07", "DECLINED"), ("BANKIDCL", "DECLINED"), ("TM01", "ERROR"), ("FF08", "ERROR")]
)
def test_a_message_that_is_an_error_code_ends_the_request_with_it(swish: SwishRig, message: str, status: str) -> None:
    ident = instruction()
    with http(swish) as client:
        assert client.put(PUT + ident, json=body(message=message)).status_code == 201
        wait_for(lambda: client.get(READ_PAYMENT_REQUESTS + ident).json()["status"] != "CREATED")
        final = client.get(READ_PAYMENT_REQUESTS + ident).json()
    assert (final["status"], final["errorCode"]) == (status, message)
    assert final["paymentReference"] is None


def test_a_client_without_a_certificate_is_refused_by_tls(swish: SwishRig) -> None:
    anonymous = ssl.create_default_context(cafile=str(swish.certs.ca))
    with pytest.raises(httpx.HTTPError), httpx.Client(base_url=swish.server.url, verify=anonymous) as client:
        client.put(PUT + instruction(), json=body())
    assert swish.simulator.requests == {}


def test_a_certificate_from_another_ca_is_refused(swish: SwishRig, tmp_path: Any) -> None:
    from kvitt.simulators.swish import make_certificates

    stranger: Certificates = make_certificates(tmp_path / "other")
    context = tls_context(str(stranger.client_cert), str(stranger.client_key), str(swish.certs.ca))
    with pytest.raises(httpx.HTTPError), httpx.Client(base_url=swish.server.url, verify=context) as client:
        client.put(PUT + instruction(), json=body())
    assert swish.simulator.requests == {}


def test_a_paid_request_can_be_refunded_and_the_refund_is_paid(swish: SwishRig) -> None:
    ident = instruction()
    with http(swish) as client:
        client.put(PUT + ident, json=body())
        wait_for(lambda: client.get(READ_PAYMENT_REQUESTS + ident).json()["status"] == "PAID")
        paid = client.get(READ_PAYMENT_REQUESTS + ident).json()
        refund = {
            "originalPaymentReference": paid["paymentReference"],
            "callbackUrl": "http://127.0.0.1:9/cb",
            "payerAlias": "1231181189",
            "amount": "100.00",
            "currency": "SEK",
            "message": "Återbetalning",
        }
        too_much = client.put("/swish-cpcapi/api/v2/refunds/" + instruction(), json={**refund, "amount": "431.01"})
        assert [e["errorCode"] for e in too_much.json()] == ["RF04"]
        refund_id = instruction()
        assert client.put("/swish-cpcapi/api/v2/refunds/" + refund_id, json=refund).status_code == 201
        wait_for(lambda: client.get("/swish-cpcapi/api/v1/refunds/" + refund_id).json()["status"] == "PAID")
        wrong = client.put(
            "/swish-cpcapi/api/v2/refunds/" + instruction(), json={**refund, "originalPaymentReference": "X"}
        )
    assert [e["errorCode"] for e in wrong.json()] == ["RF02"]
