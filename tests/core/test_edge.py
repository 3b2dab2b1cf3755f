"""The edge (kvitt.core.edge): request ids, metrics, HTTP policies in one middleware."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from kvitt.core.edge import RequestIds
from tests.conftest import Api


def test_request_ids_are_unique_hex_within_and_across_processes() -> None:
    one, other = RequestIds(), RequestIds()
    ids = [one.new() for _ in range(1000)] + [other.new() for _ in range(1000)]
    assert len(set(ids)) == 2000
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)


def test_an_answer_carries_its_own_headers_then_the_security_headers_then_the_request_id(api: Api) -> None:
    response = api.get("/invoices/999999", headers={"X-Request-Id": "edge-1"})
    assert response.status_code == 404
    names = [name.lower() for name in response.headers]
    assert names[-1] == "x-request-id" and response.headers["x-request-id"] == "edge-1"
    assert names.index("content-type") < names.index("x-content-type-options") < names.index("content-security-policy")


def test_a_refused_body_is_answered_through_the_whole_edge(client: TestClient, api: Api) -> None:
    too_big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    response = client.post(
        "/api/v1/invoices",
        content=too_big,
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json", "X-Request-Id": "edge-2"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert response.headers["x-request-id"] == "edge-2"
    assert response.headers["x-frame-options"] == "DENY"
    metrics = client.get("/metrics").text
    # Refused before routing: counted under the one label of unmatched paths.
    assert 'kvitt_http_requests_total{method="POST",route="<unmatched>",status="413"}' in metrics


async def _cut_off(app: Any, path: str) -> list[dict[str, Any]]:
    """A form POST whose client goes away after the first bytes of a body it said was longer."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    messages = iter([{"type": "http.request", "body": b"email=a", "more_body": True}, {"type": "http.disconnect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("path", ["/admin/login", "/i/no-such-token/messages"])
def test_a_client_gone_in_the_middle_of_its_form_is_a_499_line_not_a_500_with_a_traceback(app: Any, path: str) -> None:
    with capture_logs() as logs:
        sent = asyncio.run(_cut_off(app, path))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    assert [e for e in logs if e["log_level"] in ("error", "critical")] == []
    (line,) = [e for e in logs if e["event"] == "request"]
    assert (line["status"], line["path"]) == (499, path)
