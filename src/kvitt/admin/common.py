"""What every page module of the back office shares: the tenant in the unit of work, the actor
name written on timelines, reading an action's form and answering it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kvitt.admin import render
from kvitt.admin.auth import Forbidden, StaffMember
from kvitt.admin.forms import staff_form
from kvitt.core.db import Database
from kvitt.core.errors import KvittError, NotFound, ValidationFailed
from kvitt.tenants.models import Tenant

PAGE_SIZE = 50
MAX_LISTED = 100  # errors of a refusal shown on its page


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def tenant_of(session: Session, staff: StaffMember) -> Tenant:
    """The staff member's tenant as a row of this unit of work (services take it)."""
    tenant = session.get(Tenant, staff.tenant_id)
    if tenant is None:  # the tenant went away under a live session
        raise NotFound("no tenant")
    return tenant


def actor(staff: StaffMember) -> str:
    """How the staff member is named on timelines and in ledger entries."""
    return f"staff:{staff.email}"[:100]


def require(staff: StaffMember, *roles: str) -> None:
    """An action's role, checked on the server whatever the page showed."""
    if not staff.can(*roles):
        raise Forbidden(staff)


def failed(request: Request, staff: StaffMember, error: KvittError, back: str) -> Response:
    """An action the services refused: their message, and the way back (422, htmx swaps it)."""
    status = 404 if isinstance(error, NotFound) else 422
    context = {"title": "Något behöver rättas", "text": error.message, "back": back, "errors": listed_errors(error)}
    return render.page(request, staff, "admin/error.html", context, nav="", status_code=status)


def listed_errors(error: KvittError) -> list[dict[str, Any]]:
    """A refusal's list of errors, where it has one (a billing file's, by line and field)."""
    errors = error.extra.get("errors")
    return [e for e in errors[:MAX_LISTED] if isinstance(e, dict)] if isinstance(errors, list) else []


# An action's own answer to a refusal (the page again with the message at its field), or None
# for the generic error page.
Refused = Callable[[KvittError, dict[str, str]], Response | None]


async def act(
    request: Request,
    staff: StaffMember,
    roles: tuple[str, ...],
    work: Callable[[Session, Tenant, dict[str, str]], str],
    back: str,
    reader: Callable[[Request, StaffMember], Awaitable[dict[str, str]]] = staff_form,
    refused: Refused | None = None,
) -> Response:
    """One action: role, CSRF, then ``work`` in one transaction; it returns where to go next
    (post/redirect/get). A refusal of a service rolls everything back and is shown: by
    ``refused`` (given the error and the form as typed) where it answers, else on the error page.
    ``reader`` reads the form and checks its CSRF token (a form with a file has its own)."""
    require(staff, *roles)
    form = await reader(request, staff)

    def shown(error: KvittError) -> Response:
        answer = refused(error, form) if refused is not None else None
        return answer if answer is not None else failed(request, staff, error, back)

    def run() -> Response:
        try:
            with database(request).transaction() as session:
                target = work(session, tenant_of(session, staff), form)
        except KvittError as exc:
            return shown(exc)
        except ValidationError as exc:  # a service's input model refused a field
            return shown(ValidationFailed(problems_of(exc), param=first_field(exc)))
        return render.see_other(request, staff, target)

    return await run_in_threadpool(run)


def problems_of(error: ValidationError) -> str:
    """A pydantic refusal as one line: each field and what is wrong with it."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def first_field(error: ValidationError) -> str | None:
    """The field a pydantic refusal names first (its top-level name)."""
    for problem in error.errors():
        if problem["loc"]:
            return str(problem["loc"][0])
    return None


def read(request: Request, staff: StaffMember, work: Callable[[Session, Tenant], Any]) -> Any:
    with database(request).read() as session:
        return work(session, tenant_of(session, staff))


def whole_number(value: str, param: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValidationFailed(f"{param} must be a whole number", param=param) from None


def amount_ore(value: str, param: str = "amount") -> int:
    """An amount typed by a person in kronor (``1 234,50`` or ``1234.50``) as öre."""
    from kvitt.core.money import MoneyError, kronor_to_ore

    text = value.replace("\u00a0", "").replace(" ", "").replace("kr", "").replace(",", ".").strip()
    try:
        ore = kronor_to_ore(text)
    except (MoneyError, ValueError, ArithmeticError):
        raise ValidationFailed(f"{param}: write an amount in kronor, e.g. 149,50", param=param) from None
    if ore <= 0:
        raise ValidationFailed(f"{param}: the amount must be more than 0", param=param)
    return ore
