"""The API's description and its two readers: the OpenAPI document, Swagger UI and ReDoc.

- :func:`describe` adds to FastAPI's OpenAPI document what it cannot know: the ``ApiKey``
  security scheme (HTTP Bearer) on every operation behind ``TenantRoute`` (so that Swagger UI's
  *Authorize* sends the key), the ``Idempotency-Key`` header on those that honour it (POST), and
  the error answers every such operation may give (400 malformed JSON, 401, 413, 422, 429) in
  the API's one error shape.
- ``/api/docs`` (Swagger UI, *Try it out* with your key) and ``/api/redoc`` (ReDoc) are served
  from ``static/``: the assets are vendored (no CDN, the pages work offline) and started by a
  script file, not an inline script, so that both pages run under a Content-Security-Policy
  without ``'unsafe-inline'`` scripts. Versions and licences: ``static/VENDORED.md``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import iter_route_contexts

from kvitt.core.api import MAX_IDEMPOTENCY_KEY, TenantRoute
from kvitt.web.routes import ASSET_URLS

SWAGGER_UI = "5.35.0"
REDOC = "2.5.4"
STATIC = files("kvitt.apidocs").joinpath("static")
ASSETS = {
    f"swagger-ui-bundle-{SWAGGER_UI}.js": "text/javascript",
    f"swagger-ui-{SWAGGER_UI}.css": "text/css",
    f"redoc-{REDOC}.standalone.js": "text/javascript",
    "docs-init.js": "text/javascript",
    "docs.css": "text/css",
}
# Swagger UI and ReDoc set inline style attributes and ReDoc injects <style> elements and runs a
# worker from a blob: URL; scripts come only from this site.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_SCHEME = "ApiKey"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message"],
            "properties": {
                "type": {"type": "string", "examples": ["invalid_request_error"]},
                "code": {"type": "string", "examples": ["invalid_value"]},
                "message": {"type": "string"},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}
ERRORS = {
    "400": "Malformed request: the body is not valid JSON (code `invalid_json`), or a rule of the operation",
    "401": "No API key, or an invalid or revoked one (code `invalid_api_key`)",
    "413": "The body is larger than the limit, KVITT_MAX_BODY_BYTES (code `body_too_large`)",
    "422": "A parameter or field is invalid; `param` names it, `errors` lists every problem",
    "429": "Too many requests with this API key; retry after `Retry-After` seconds (code `rate_limited`)",
}
BODY_ERRORS = ("400", "413")
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Any unique string (a UUID) that makes retrying this request safe: a second request with "
        "the same key and the same body gets the first answer again (header `Idempotent-Replayed: "
        "true`) and changes nothing; the same key with another body is refused (409 "
        "`idempotency_key_reused`). Keys are kept per tenant. See docs/api.md."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
}
DESCRIPTION = (
    "Kvitt's REST API. Authenticate with an API key as `Authorization: Bearer <key>` (the "
    '*Authorize* button). Amounts are integers of öre. Errors are `{"error": {"type", "code", '
    '"message", "param"}}`. Request bodies are limited to KVITT_MAX_BODY_BYTES (1 MiB by '
    "default), requests per API key to KVITT_RATE_LIMIT_PER_SECOND. Full guide: docs/api.md."
)


def describe(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document with security, idempotency and error answers (built once)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes, servers=app.servers
    )
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`kv_live_...`, from `kvitt init`, `kvitt keys create` or `kvitt run`).",
    }
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, method in _tenant_operations(app):
        operation = document["paths"].get(path, {}).get(method)
        if operation is None:
            continue
        operation["security"] = [{SECURITY_SCHEME: []}]
        if method == "post":
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
                parameters.append(dict(IDEMPOTENCY_PARAMETER))
        responses = operation.setdefault("responses", {})
        for status, text in ERRORS.items():
            if status in BODY_ERRORS and method not in ("post", "put", "patch"):
                continue
            if status == "422" or status not in responses:
                responses[status] = {"description": text, "content": error_ref}
        responses["429"]["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}
        }
    if not _uses(document["paths"], "HTTPValidationError"):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    app.openapi_schema = document
    return document


def _tenant_operations(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, TenantRoute) and route.include_in_schema and context.path_format:
            found += [(context.path_format, method.lower()) for method in context.methods or ()]
    return found


def _uses(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return any(_uses(value, name) for value in node.values())
    if isinstance(node, list):
        return any(_uses(value, name) for value in node)
    return isinstance(node, str) and node.endswith("/" + name)


@lru_cache(maxsize=len(ASSETS))
def _asset(name: str) -> bytes:
    return STATIC.joinpath(name).read_bytes()


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        f'<link rel="icon" href="{ASSET_URLS["favicon"]}">'
        f"{body}</html>"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"})


def router(openapi_url: str) -> APIRouter:
    docs = APIRouter(include_in_schema=False)

    @docs.get("/api/docs")
    def swagger_ui() -> HTMLResponse:
        return _page(
            "Kvitt API",
            f'<link rel="stylesheet" href="/api/docs/static/swagger-ui-{SWAGGER_UI}.css">'
            '<link rel="stylesheet" href="/api/docs/static/docs.css"></head>'
            f'<body><div id="swagger-ui" data-openapi="{openapi_url}"></div>'
            f'<script src="/api/docs/static/swagger-ui-bundle-{SWAGGER_UI}.js"></script>'
            '<script src="/api/docs/static/docs-init.js"></script></body>',
        )

    @docs.get("/api/redoc")
    def redoc() -> HTMLResponse:
        # ReDoc's standalone bundle renders every <redoc spec-url> element it finds on load.
        return _page(
            "Kvitt API reference",
            f'</head><body><redoc spec-url="{openapi_url}"></redoc>'
            f'<script src="/api/docs/static/redoc-{REDOC}.standalone.js"></script></body>',
        )

    @docs.get("/api/docs/static/{name}")
    def asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        # Versioned names: a new version is a new URL, so the old one may be cached for good.
        versioned = SWAGGER_UI in name or REDOC in name
        cache = "public, max-age=31536000, immutable" if versioned else "no-cache"
        return Response(_asset(name), media_type=media_type, headers={"Cache-Control": cache})

    return docs


def install(app: FastAPI, openapi_url: str) -> None:
    """Serve the docs pages and describe the API (call after every router is included)."""
    app.include_router(router(openapi_url))
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
