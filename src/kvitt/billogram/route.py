"""The request wrapper of ``/api/billogram/v2``: Basic auth in front of Kvitt's own wrapper
(``TenantRoute``: the key, one transaction, commit or roll back), Billogram's envelope out."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from kvitt.billogram import errors
from kvitt.billogram.auth import basic_credentials, user_name
from kvitt.billogram.errors import INVALID_AUTH, BillogramError
from kvitt.core.api import TenantRoute, error_response, request_session, request_tenant
from kvitt.core.config import web_base_url
from kvitt.formats import billogram as codec
from kvitt.tenants.models import Tenant

PREFIX = "/api/billogram/v2"
MEDIA_TYPE = "application/json"  # exactly: the client compares the header with this string


class BillogramJSON(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return codec.dumps(content)


def ok(data: Any, *, total_count: int | None = None) -> BillogramJSON:
    body: dict[str, Any] = {"status": "OK", "data": data}
    if total_count is not None:
        body["meta"] = {"total_count": total_count}
    return BillogramJSON(body)


class BillogramRoute(TenantRoute):
    """Basic ``user:key`` becomes the key Kvitt's wrapper checks; the user is checked against the
    key's tenant by ``check_user`` (a dependency of every route); error answers are translated."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                user, key = basic_credentials(_header(request, b"authorization"))
            except BillogramError as exc:
                return error_response(exc)
            _set_bearer(request, key)
            request.state.billogram_user = user
            return errors.translate(await inner(request))

        return run


def _header(request: Request, name: bytes) -> str | None:
    for key, value in request.scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _set_bearer(request: Request, key: str) -> None:
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"authorization"]
    headers.append((b"authorization", f"Bearer {key}".encode("latin-1", "replace")))
    request.scope["headers"] = headers
    request.__dict__.pop("_headers", None)  # Starlette caches the parsed headers


async def check_user(request: Request) -> None:
    tenant: Tenant = request.state.tenant
    if request.state.billogram_user != user_name(tenant.id, tenant.org_number):
        raise BillogramError(INVALID_AUTH, "the API user does not go with this API key", http_status=403)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return codec.loads(raw)
    except codec.NotJson as exc:
        raise errors.invalid(str(exc)) from None


async def public_url(request: Request) -> str:
    return web_base_url(request.app.state.settings)


SessionDep = Annotated[Session, Depends(request_session)]
TenantDep = Annotated[Tenant, Depends(request_tenant)]
Body = Annotated[Any, Depends(json_body)]
BaseUrl = Annotated[str, Depends(public_url)]
