"""The request wrapper every API route runs in: authentication, one transaction, idempotency.

Each request gets one session. The wrapper (not the handlers, not the services) commits it
once at the end if the response is a success, and rolls it back otherwise. A POST with an
``Idempotency-Key`` stores its response in that same transaction, so a response is
remembered exactly when its effects are committed.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Coroutine, Sequence
from contextvars import ContextVar
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from kvitt.core import idempotency
from kvitt.core.db import is_disconnect, is_unavailable
from kvitt.core.errors import AuthenticationFailed, Conflict, KvittError, ValidationFailed
from kvitt.core.schemas import MAX_ID
from kvitt.core.tokens import hash_api_key

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


class ServiceUnavailable(KvittError):
    status_code = 503
    error_type = "api_error"
    code = "service_unavailable"


def unavailable_response() -> JSONResponse:
    response = error_response(ServiceUnavailable("the database cannot be reached; retry in a few seconds"))
    response.headers["Retry-After"] = "2"
    return response


def _key_hash(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationFailed("send your API key as 'Authorization: Bearer <key>'")
    return hash_api_key(key.strip())


class Authenticator(Protocol):
    """Who is calling: the tenant of an API key. Provided by the tenants feature at start-up
    (``provide_authenticator``), so that core knows no feature. A tenant is any object with an
    ``id``; the endpoints get it through ``request_tenant``."""

    def cached(self, key_hash: str) -> Any | None:
        """The tenant of a key seen recently (a detached copy), or None: ask ``load``."""

    def load(self, session: Session, key_hash: str) -> Any | None:
        """The tenant of a valid, unrevoked key, read in ``session``; None if there is none."""

    def reload(self, session: Session, tenant: Any) -> Any:
        """The tenant's row as it is now, in ``session`` (a write acts on fresh settings)."""


_authenticator: Authenticator | None = None


def provide_authenticator(authenticator: Authenticator) -> None:
    global _authenticator
    _authenticator = authenticator


def _authenticator_or_fail() -> Authenticator:
    if _authenticator is None:  # a programming error: create_app provides it
        raise RuntimeError("no API key authenticator provided (kvitt.app.create_app provides it)")
    return _authenticator


def authenticate(session: Session, authorization: str | None) -> Any:
    """The tenant of a valid, unrevoked key, read from the database; the row is attached to
    ``session``."""
    tenant = _authenticator_or_fail().load(session, _key_hash(authorization))
    if tenant is None:
        raise AuthenticationFailed("invalid or revoked API key")
    return tenant


async def request_session(request: Request) -> Session:
    session: Session = request.state.session
    return session


async def request_tenant(request: Request) -> Any:
    return request.state.tenant


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITES_ON_READ = "kvitt_writes_on_read"
POINT_READ = "kvitt_point_read"
F = TypeVar("F", bound=Callable[..., Any])


def point_read(endpoint: F) -> F:
    """Mark a GET endpoint whose database work is a few statements by key (one object, not a
    list or a report): on a database that allows it (``Database.point_reads_on_loop``, SQLite)
    it runs on the event loop, without the thread pool's hand-over; elsewhere in one hop as
    every endpoint does (decisions/0004)."""
    setattr(endpoint, POINT_READ, True)
    return endpoint


def writes_on_read(endpoint: F) -> F:
    """Mark a GET endpoint that may write (a get-or-create of a tenant's defaults): it runs in a
    write transaction like a POST. Every other GET runs read-only (on SQLite a write in it fails:
    ``PRAGMA query_only``, so the test suite finds a GET that writes unmarked)."""
    setattr(endpoint, WRITES_ON_READ, True)
    return endpoint


class _Unit:
    """One request's unit of work, as the wrapper and the endpoint (in its thread) share it.

    A plain class with a short repr: a traceback logged with its locals must not walk the
    request (and through it the whole app)."""

    __slots__ = ("done", "idempotency_key", "request", "session", "tenant", "write")

    def __init__(self, request: Request, session: Session, write: bool, tenant: Any | None) -> None:
        self.request = request
        self.session = session
        self.write = write
        # A cached detached copy until the endpoint's thread loads the row (writes).
        self.tenant: Any = tenant  # set before the endpoint runs
        self.idempotency_key: str | None = None
        self.done = False  # committed (or, for a read, finished) in the endpoint's thread

    def __repr__(self) -> str:
        return f"<request unit {self.request.method} write={self.write} done={self.done}>"


_UNIT: ContextVar[_Unit | None] = ContextVar("kvitt_request_unit", default=None)


class TenantRoute(APIRoute):
    """An API route that acts for the tenant whose API key made the request.

    The request path (docs/architecture.md, "One request, one transaction"): the key from the
    in-process cache (a database read only on a miss); GET runs in a read-only session (no
    write lock on SQLite, autocommit on PostgreSQL); a plain (``def``) endpoint runs in the
    thread pool *once*, together with what the wrapper must do in the database around it:
    loading the tenant's row for a write, then the commit. Only a POST with an
    ``Idempotency-Key`` needs a second hop, to store the serialized response in the same
    transaction.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.writes_on_read = bool(getattr(endpoint, WRITES_ON_READ, False))
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _one_hop(endpoint, point_read=bool(getattr(endpoint, POINT_READ, False)))
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        writes_on_read = self.writes_on_read

        async def run(request: Request) -> Response:
            write = writes_on_read or request.method not in READ_METHODS
            for attempt in (1, 2):
                try:
                    return await _run(request, handle, write)
                except DBAPIError as exc:
                    # A dropped connection loses the whole transaction, so running the request
                    # again is safe (the commit itself is never retried: see _finish).
                    if attempt == 1 and is_disconnect(exc) and not getattr(exc, "kvitt_in_commit", False):
                        continue
                    if is_unavailable(exc):
                        return unavailable_response()
                    raise
            raise AssertionError("unreachable")  # pragma: no cover

        return run


def _one_hop(endpoint: Callable[..., Any], point_read: bool = False) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(endpoint)
    async def call(**kwargs: Any) -> Any:
        unit = _UNIT.get()
        if unit is None:  # not under TenantRoute's wrapper (never in the app)
            return await run_in_threadpool(functools.partial(endpoint, **kwargs))
        if point_read and not unit.write and unit.request.app.state.db.point_reads_on_loop:
            return _in_unit(unit, endpoint, kwargs)  # zero hops: see point_read
        return await run_in_threadpool(_in_unit, unit, endpoint, kwargs)

    return call


def _in_unit(unit: _Unit, endpoint: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    session = unit.session
    try:
        if unit.write:
            # Writes act on the tenant's row as it is now, inside their own transaction.
            snapshot, fresh = unit.tenant, _authenticator_or_fail().reload(session, unit.tenant)
            kwargs = {name: fresh if value is snapshot else value for name, value in kwargs.items()}
            unit.tenant = unit.request.state.tenant = fresh
        result = endpoint(**kwargs)
    except BaseException:
        session.rollback()
        unit.done = True
        raise
    failed = isinstance(result, Response) and result.status_code >= 400
    if unit.idempotency_key is None and not failed:
        if unit.write:
            _commit(session)
        unit.done = True
    return result


def _commit(session: Session) -> None:
    try:
        session.commit()
    except DBAPIError as exc:
        exc.kvitt_in_commit = True  # type: ignore[attr-defined]  # the outcome is unknown: never retried
        raise


async def _run(request: Request, handle: Callable[[Request], Coroutine[Any, Any, Response]], write: bool) -> Response:
    database = request.app.state.db
    authorization = request.headers.get("authorization")
    try:
        tenant = _authenticator_or_fail().cached(_key_hash(authorization))
    except KvittError as exc:
        return error_response(exc)
    session: Session = (database.sessions if write else database.read_sessions)()
    unit = _Unit(request, session, write, tenant)
    request.state.session = session
    try:
        if tenant is None:
            try:
                tenant = await run_in_threadpool(authenticate, session, authorization)
            except KvittError as exc:
                return error_response(exc)
            unit.tenant = tenant
        request.state.tenant = tenant
        token = _UNIT.set(unit)
        try:
            return await _run_in_transaction(request, unit, handle)
        finally:
            _UNIT.reset(token)
    finally:
        if unit.done or not session.in_transaction():
            session.close()  # nothing left to roll back: no round trip, no thread
        else:
            await run_in_threadpool(session.close)


async def _run_in_transaction(
    request: Request, unit: _Unit, handle: Callable[[Request], Coroutine[Any, Any, Response]]
) -> Response:
    # The id as a plain int, read now: after a rollback the endpoint's fresh Tenant row is
    # expired, and reading an attribute of it here, on the event loop, would start a
    # transaction on the loop's thread (on SQLite: wait at the write gate with the loop blocked).
    session, tenant_id = unit.session, unit.tenant.id
    key = request.headers.get(IDEMPOTENCY_HEADER) if request.method == "POST" else None
    request_hash = ""
    if key is not None:
        if not key or len(key) > MAX_IDEMPOTENCY_KEY:
            return error_response(
                ValidationFailed("Idempotency-Key must be 1 to 255 characters", param="Idempotency-Key")
            )
        unit.idempotency_key = key
        request_hash = _request_hash(request, await request.body())
        replay = await run_in_threadpool(_replay, session, tenant_id, key, request_hash)
        if replay is not None:
            return replay

    try:
        response = await handle(request)
    except KvittError as exc:
        response = error_response(exc)
    except RequestValidationError as exc:
        response = error_response(validation_error(exc))
    except BaseException:
        if not unit.done:
            await run_in_threadpool(session.rollback)
        raise
    if unit.done and response.status_code < 400:
        return response
    return await run_in_threadpool(_finish, session, tenant_id, key, request_hash, response)


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
    _commit(session)
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
