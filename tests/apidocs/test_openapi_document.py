"""The OpenAPI document says how to authenticate and how to retry safely, and the docs pages are
served from Kvitt itself (vendored Swagger UI and ReDoc: no CDN, scripts only from files)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from kvitt.apidocs import ASSETS, REDOC, STATIC, SWAGGER_UI


def _document(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_every_operation_requires_the_bearer_api_key(client: TestClient) -> None:
    document = _document(client)
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    operations = _operations(document)
    assert len(operations) > 50
    missing = [(path, method) for path, method, op in operations if op.get("security") != [{"ApiKey": []}]]
    assert missing == []
    for _, _, op in operations:
        assert {"401", "429"} <= set(op["responses"])
        assert "Retry-After" in op["responses"]["429"]["headers"]


def test_post_operations_document_the_idempotency_key_and_body_errors(client: TestClient) -> None:
    document = _document(client)
    posts = [(path, op) for path, method, op in _operations(document) if method == "post"]
    assert len(posts) > 20
    for path, op in posts:
        headers = [p for p in op.get("parameters", []) if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert len(headers) == 1, path
        assert headers[0]["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
        assert {"400", "413", "422"} <= set(op["responses"]), path
    # GET, PATCH and DELETE ignore the header (only POST is replayed), so it is not offered there.
    others = [op for _, method, op in _operations(document) if method != "post"]
    assert not any(p["name"] == "Idempotency-Key" for op in others for p in op.get("parameters", []))


def test_errors_are_described_in_the_one_error_shape(client: TestClient) -> None:
    document = _document(client)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["type", "code", "message"]
    for _, _, op in _operations(document):
        assert op["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_docs_pages_load_nothing_from_elsewhere_and_run_no_inline_script(client: TestClient) -> None:
    for path in ("/api/docs", "/api/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert "https://" not in page.text and "http://" not in page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), "an inline script"
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        for asset in re.findall(r'(?:src|href)="(/api/docs/static/[^"]+)"', page.text):
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 100
    assert client.get("/").headers.get("location") in (None, "/api/docs")


def test_vendored_assets_are_the_named_versions_with_their_licences(client: TestClient) -> None:
    names = {p.name for p in STATIC.iterdir()}
    assert set(ASSETS) <= names
    assert {f"swagger-ui-{SWAGGER_UI}.LICENSE", f"redoc-{REDOC}.LICENSE", "VENDORED.md"} <= names
    assert "SwaggerUIBundle" in client.get(f"/api/docs/static/swagger-ui-bundle-{SWAGGER_UI}.js").text[:2_000_000]
    vendored = STATIC.joinpath("VENDORED.md").read_text()
    assert f"| swagger-ui-dist | {SWAGGER_UI} | Apache-2.0" in vendored and f"| redoc | {REDOC} | MIT" in vendored
    cached = client.get(f"/api/docs/static/redoc-{REDOC}.standalone.js")
    assert "immutable" in cached.headers["cache-control"]
    assert client.get("/api/docs/static/docs-init.js").headers["cache-control"] == "no-cache"
    assert client.get("/api/docs/static/..%2Fapidocs%2F__init__.py").status_code == 404
    assert client.get("/api/docs/static/VENDORED.md").status_code == 404
