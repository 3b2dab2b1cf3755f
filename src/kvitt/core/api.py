"""The request wrapper every API route runs in: authentication, one transaction, idempotency.

Each request gets one session. The wrapper (not the handlers, not the services) commits it
once at the end if the response is a success, and rolls it back otherwise. A POST with an
``Idempotency-Key`` stores its response in that same transaction, so a response is
remembered exactly when its effects are committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.core import idempotency
from kvitt.core.errors import AuthenticationFailed, Conflict, KvittError, ValidationFailed
from kvitt.core.schemas import MAX_ID
from kvitt.core.tokens import hash_api_key
from kvitt.tenants.models import ApiKey, Tenant

IDEMPOTENCY_HEADER = "idempotency-key"
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
QueryText = Annotated[str | None, Query(max_length=254, pattern=r"^[^\x00]*$")]
MAX_IDEMPOTENCY_KEY = 255


def error_response(exc: KvittError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationFailed) else None
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)


def param_path(loc: Sequence[str | int]) -> str:
    """``("body", "lines", 0, "vat_rate")`` → ``lines[0].vat_rate``."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not isinstance(part, str) or part.startswith("function-"):
            continue
        else:
            text += ("." if text else "") + part
    return text


def validation_error(exc: RequestValidationError) -> KvittError:
    errors = list(exc.errors())
    if errors and errors[0].get("type") == "json_invalid":
        return malformed_json(errors[0], exc.body)
    details = [{"param": param_path(e.get("loc", ())), "message": _message(e)} for e in errors]
    first = details[0] if details else {"param": None, "message": "invalid request"}
    code = "parameter_missing" if errors and errors[0].get("type") == "missing" else "invalid_value"
    message = f"{first['param']}: {first['message']}" if first["param"] else str(first["message"])
    return ValidationFailed(message, param=first["param"] or None, code=code, extra={"errors": details})


def malformed_json(error: dict[str, Any], body: Any) -> KvittError:
    """400 for a body that is not JSON, with where it went wrong (not 422 "[9]: JSON decode error")."""
    reason = str((error.get("ctx") or {}).get("error") or "not valid JSON")
    loc = error.get("loc", ())
    position = loc[-1] if loc and isinstance(loc[-1], int) else None
    where = ""
    if position is not None:
        where = f" at character {position + 1}"
        if isinstance(body, str | bytes):
            text = body if isinstance(body, str) else body.decode("utf-8", "replace")
            line = text.count("\n", 0, position) + 1
            column = position - (text.rfind("\n", 0, position) + 1) + 1
            where = f" at line {line}, column {column}"
    return KvittError(f"the request body is not valid JSON: {reason}{where}", param="body", code="invalid_json")


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def authenticate(session: Session, authorization: str | None) -> Tenant:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationFailed("send your API key as 'Authorization: Bearer <key>'")
    tenant = session.scalar(
        select(Tenant)
        .join(ApiKey, ApiKey.tenant_id == Tenant.id)
        .where(ApiKey.key_hash == hash_api_key(key.strip()), ApiKey.revoked_at.is_(None))
    )
    if tenant is None:
        raise AuthenticationFailed("invalid or revoked API key")
    return tenant


def request_session(request: Request) -> Session:
    session: Session = request.state.session
    return session


def request_tenant(request: Request) -> Tenant:
    tenant: Tenant = request.state.tenant
    return tenant


class TenantRoute(APIRoute):
    """An API route that acts for the tenant whose API key made the request."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def run(request: Request) -> Response:
            session: Session = request.app.state.db.sessions()
            request.state.session = session
            try:
                return await _run_in_transaction(request, session, handle)
            finally:
                await run_in_threadpool(session.close)

        return run


async def _run_in_transaction(
    request: Request, session: Session, handle: Callable[[Request], Coroutine[Any, Any, Response]]
) -> Response:
    try:
        tenant = await run_in_threadpool(authenticate, session, request.headers.get("authorization"))
    except KvittError as exc:
        return error_response(exc)
    request.state.tenant = tenant
    key = request.headers.get(IDEMPOTENCY_HEADER) if request.method == "POST" else None
    request_hash = ""
    if key is not None:
        if not key or len(key) > MAX_IDEMPOTENCY_KEY:
            return error_response(
                ValidationFailed("Idempotency-Key must be 1 to 255 characters", param="Idempotency-Key")
            )
        request_hash = _request_hash(request, await request.body())
        replay = await run_in_threadpool(_replay, session, tenant.id, key, request_hash)
        if replay is not None:
            return replay

    try:
        response = await handle(request)
    except KvittError as exc:
        response = error_response(exc)
    except RequestValidationError as exc:
        response = error_response(validation_error(exc))
    except BaseException:
        await run_in_threadpool(session.rollback)
        raise
    return await run_in_threadpool(_finish, session, tenant.id, key, request_hash, response)


def _finish(session: Session, tenant_id: int, key: str | None, request_hash: str, response: Response) -> Response:
    if response.status_code >= 400:
        session.rollback()
    if key is not None and response.status_code < 500 and response.media_type == "application/json":
        body = json.loads(bytes(response.body)) if response.body else None
        idempotency.remember(session, tenant_id, key, request_hash, response.status_code, body)
        try:
            session.flush()
        except IntegrityError:
            # Another request with the same key committed first: this one must not land.
            session.rollback()
            return error_response(
                Conflict(
                    "another request with this Idempotency-Key was processed at the same time; retry to get its result",
                    code="idempotency_key_in_use",
                )
            )
    session.commit()
    return response


def _replay(session: Session, tenant_id: int, key: str, request_hash: str) -> Response | None:
    record = idempotency.find(session, tenant_id, key)
    if record is None:
        return None
    if record.request_hash != request_hash:
        return error_response(
            Conflict(
                "this Idempotency-Key was used with a different request",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        )
    return JSONResponse(record.response, status_code=record.status_code, headers={"Idempotent-Replayed": "true"})


def _request_hash(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.url.path.encode())
    digest.update(request.url.query.encode())
    digest.update(_canonical(body))
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    """The same JSON with other key order or spacing is the same request (Stripe compares parameters)."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return body
