"""The HTTP policies in front of every route (kvitt.core.http): malformed JSON, the body limit,
per-key rate limits, security headers. The limit tests talk to a real uvicorn server over a
socket, because only a server shows whether a body is refused before it has been read whole."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.core.http import TokenBuckets
from kvitt.simulators import RunningServer, serve_in_thread
from tests.conftest import Api
from tests.test_pagination_and_errors import assert_error

LIMIT = 4096


@pytest.fixture
def small_limit_server(settings: Settings, db: Database) -> Iterator[RunningServer]:
    app = create_app(settings.model_copy(update={"max_body_bytes": LIMIT}), db, embedded_worker=False)
    with serve_in_thread(app) as server:
        yield server


def _exchange(server: RunningServer, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send a request's head and ``body`` (and no more), then read the answer. A server that
    waited for the rest of the body would never answer: the socket's timeout ends the test."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection without an answer"
            data += chunk
        header_block, _, rest = data.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(lines[0].split()[1]), headers, rest


def _head(method: str, path: str, *headers: str) -> str:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]) + "\r\n"


# --- malformed JSON -------------------------------------------------------------------------------


def test_malformed_json_is_400_saying_where(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    body = b'{"customer_no": "1",\n "name": "Bo" "email": null}'
    error = assert_error(
        api.client.post("/api/v1/customers", content=body, headers=headers), 400, code="invalid_json", param="body"
    )
    assert error["message"] == "the request body is not valid JSON: Expecting ',' delimiter at line 2, column 15"
    assert "JSON decode error" not in error["message"]


def test_a_truncated_body_and_a_wrong_literal_are_400(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    for body in (b'{"customer_no": "1", ', b"{'customer_no': '1'}", b"nope"):
        error = assert_error(api.client.post("/api/v1/customers", content=body, headers=headers), 400)
        assert error["code"] == "invalid_json" and error["message"].startswith("the request body is not valid JSON: ")


# --- the body limit -------------------------------------------------------------------------------


def test_a_declared_length_above_the_limit_is_413_before_the_body_is_sent(small_limit_server: RunningServer) -> None:
    # No key and no body: the length alone decides, before authentication or reading.
    head = _head("POST", "/api/v1/customers", "Content-Type: application/json", "Content-Length: 10485760")
    status, headers, body = _exchange(small_limit_server, head)
    assert status == 413
    assert b'"code":"body_too_large"' in body and str(LIMIT).encode() in body
    assert headers["connection"] == "close"


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(
    small_limit_server: RunningServer, tenant_a: tuple[int, str]
) -> None:
    head = _head(
        "POST",
        "/api/v1/customers",
        f"Authorization: Bearer {tenant_a[1]}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
    )
    # One chunk just over the limit and no last chunk: the rest of the 10 MB is never sent.
    piece = b"[" + b"1," * (LIMIT // 2) + b"1"
    status, _, body = _exchange(small_limit_server, head, b"%x\r\n%s\r\n" % (len(piece), piece))
    assert status == 413
    assert b'"code":"body_too_large"' in body


def test_a_body_at_the_limit_is_read(small_limit_server: RunningServer, tenant_a: tuple[int, str]) -> None:
    payload = b'{"customer_no": "big", "name": "Bo Ek"}'
    padded = payload + b" " * (LIMIT - len(payload))
    head = _head(
        "POST",
        "/api/v1/customers",
        f"Authorization: Bearer {tenant_a[1]}",
        "Content-Type: application/json",
        f"Content-Length: {len(padded)}",
    )
    status, _, body = _exchange(small_limit_server, head, padded)
    assert status == 201, body


def test_the_limit_is_in_the_settings_and_the_default_is_one_mebibyte() -> None:
    assert Settings().max_body_bytes == 1_048_576


def test_file_uploads_keep_their_own_limit(
    small_limit_server: RunningServer, tenant_a: tuple[int, str], db: Database
) -> None:
    """A BGMax file larger than the JSON limit reaches its handler (which checks it as a file)."""
    junk = b"01BGMAX" + b" " * (LIMIT * 2)
    head = _head(
        "POST",
        "/api/v1/payment-files",
        f"Authorization: Bearer {tenant_a[1]}",
        "Content-Type: application/octet-stream",
        f"Content-Length: {len(junk)}",
    )
    status, _, body = _exchange(small_limit_server, head, junk)
    assert status == 422 and b"body_too_large" not in body, body


def test_web_pages_get_a_plain_413(small_limit_server: RunningServer) -> None:
    head = _head("POST", "/i/whatever/messages", "Content-Length: 99999999")
    status, headers, _ = _exchange(small_limit_server, head)
    assert status == 413 and headers["content-type"].startswith("text/plain")


# --- rate limits ----------------------------------------------------------------------------------


def test_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(2.0, 3, clock=lambda: now[0])
    assert [buckets.take(b"k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take(b"k") == pytest.approx(0.5)  # one token comes every 0.5 s
    assert buckets.take(b"other") == 0.0  # each key has its own bucket
    now[0] += 0.5
    assert buckets.take(b"k") == 0.0
    assert buckets.take(b"k") > 0
    now[0] += 60  # never more than the burst saved up
    assert [buckets.take(b"k") for _ in range(4)][-1] > 0


def test_above_the_rate_a_key_gets_429_with_retry_after(
    settings: Settings, db: Database, tenant_a: tuple[int, str], tenant_b: tuple[int, str]
) -> None:
    tuned = settings.model_copy(update={"rate_limit_per_second": 0.01, "rate_limit_burst": 3})
    key_a, key_b = tenant_a[1], tenant_b[1]
    with TestClient(create_app(tuned, db, embedded_worker=False)) as client:
        answers = [client.get("/api/v1/customers", headers={"Authorization": f"Bearer {key_a}"}) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        limited = answers[-1]
        error = assert_error(limited, 429, code="rate_limited")
        assert error["type"] == "rate_limit_error"
        assert 1 <= int(limited.headers["Retry-After"]) <= 100  # one token per 100 s
        assert limited.headers["x-request-id"]  # answered inside the request-id middleware
        # Another key is not slowed down by the first.
        assert client.get("/api/v1/customers", headers={"Authorization": f"Bearer {key_b}"}).status_code == 200
        # Pages that take no key are not limited.
        assert client.get("/healthz").status_code == 200


def test_rate_limit_zero_turns_it_off(settings: Settings, db: Database, tenant_a: tuple[int, str]) -> None:
    tuned = settings.model_copy(update={"rate_limit_per_second": 0.0, "rate_limit_burst": 1})
    key = tenant_a[1]
    with TestClient(create_app(tuned, db, embedded_worker=False)) as client:
        statuses = {
            client.get("/api/v1/customers", headers={"Authorization": f"Bearer {key}"}).status_code for _ in range(5)
        }
    assert statuses == {200}


# --- security headers -----------------------------------------------------------------------------


def _security(response: Any) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_api_answers_carry_security_headers_and_no_hsts_over_http(api: Api) -> None:
    for response in (api.get("/customers"), api.get("/invoices/999999"), api.client.get("/api/v1/customers")):
        _security(response)
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert "strict-transport-security" not in response.headers


def test_hsts_when_the_request_came_over_https(app: Any, tenant_a: tuple[int, str]) -> None:
    with TestClient(app, base_url="https://kvitt.test") as client:
        response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {tenant_a[1]}"})
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=63072000"
    _security(response)


def test_web_invoice_keeps_its_csp_without_inline_scripts(api: Api) -> None:
    customer = api.post("/customers", {"customer_no": "1", "name": "Bo Ek", "email": "bo@example.se"}).json()
    lines = [{"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    invoice = api.post(f"/invoices/{draft['id']}/issue").json()
    page = api.client.get(invoice["url"].removeprefix("https://kvitt.test"))
    assert page.status_code == 200
    _security(page)
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert policy["frame-ancestors"] == "'none'"
    # The page has script elements only with src (no inline code to allow).
    html = page.text
    assert html.count("<script") == html.count("<script src=")
