"""*Användare* (staff users of the tenant: create with a one-time password, role, access, a new
one-time password, name and e-mail address) and *Granskningslogg* (the audit log, newest first,
and its CSV): admins only. *Mina uppgifter* (``/admin/profil``): every staff member's own name and
e-mail address. Both change a user through ``users.update_details``: one rule for the address
(checked, unique across the installation, as ``users.create_user`` checks it), audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kvitt.admin import audit as audit_log
from kvitt.admin import render, users
from kvitt.admin.audit import audit
from kvitt.admin.auth import ALL_ROLES, StaffMember, require_staff
from kvitt.admin.common import PAGE_SIZE, act, database, failed, read, whole_number
from kvitt.admin.forms import staff_form
from kvitt.admin.models import ROLES
from kvitt.admin.nav import roles_of
from kvitt.core.errors import KvittError
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
USERS = require_staff(*roles_of("users"))
ANYONE = require_staff(*ALL_ROLES)  # every staff member: their own details
AUDIT = require_staff(*roles_of("audit"))
ADMINS = ("admin",)


@router.get("/admin/anvandare")
def user_list(request: Request, staff: StaffMember = Depends(USERS)) -> Response:
    found = read(request, staff, lambda session, tenant: users.list_users(session, tenant.id))
    context = {"users": found, "roles": ROLES, "done": request.query_params.get("done"), "password": None}
    return render.page(request, staff, "admin/users.html", context, nav="users")


@router.post("/admin/anvandare")
async def create_user(request: Request, staff: StaffMember = Depends(USERS)) -> Response:
    """A new user; the one-time password is shown on this answer only (never stored readable)."""
    form = await staff_form(request, staff)

    def run() -> Response:
        try:
            with database(request).transaction() as session:
                created = users.create_user(
                    session, staff.tenant_id, form.get("email", ""), form.get("role", ""), name=form.get("name", "")
                )
                after = {"email": created.user.email, "role": created.user.role}
                audit(session, staff, "user.create", None, after, target=f"staff_user:{created.user.id}")
                found = users.list_users(session, staff.tenant_id)
        except KvittError as exc:
            return failed(request, staff, exc, "/admin/anvandare")
        shown = {"email": created.user.email, "password": created.password}
        context = {"users": found, "roles": ROLES, "done": "created", "password": shown}
        return render.page(request, staff, "admin/users.html", context, nav="users")

    return await run_in_threadpool(run)


@router.post("/admin/anvandare/{user_id}")
async def update_user(user_id: int, request: Request, staff: StaffMember = Depends(USERS)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        role = form.get("role") or None
        active = {"1": True, "0": False}.get(form.get("active", ""))
        users.update_user(session, staff, user_id, role=role, active=active)
        return "/admin/anvandare?done=contact"

    return await act(request, staff, ADMINS, work, "/admin/anvandare")


@router.post("/admin/anvandare/{user_id}/uppgifter")
async def update_details(user_id: int, request: Request, staff: StaffMember = Depends(USERS)) -> Response:
    """Another user's (or the admin's own) name and e-mail address."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        users.update_details(session, staff, user_id, name=form.get("name", ""), email=form.get("email", ""))
        return "/admin/anvandare?done=saved"

    return await act(request, staff, ADMINS, work, "/admin/anvandare")


@router.get("/admin/profil")
def profile(request: Request, staff: StaffMember = Depends(ANYONE)) -> Response:
    context = {"done": request.query_params.get("done")}
    return render.page(request, staff, "admin/profile.html", context, nav="")


@router.post("/admin/profil")
async def update_profile(request: Request, staff: StaffMember = Depends(ANYONE)) -> Response:
    """The staff member's own name and e-mail address (the login name from the next login)."""

    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        users.update_details(session, staff, staff.id, name=form.get("name", ""), email=form.get("email", ""))
        return "/admin/profil?done=saved"

    return await act(request, staff, ALL_ROLES, work, "/admin/profil")


@router.post("/admin/anvandare/{user_id}/nytt-losenord")
async def reset_password(user_id: int, request: Request, staff: StaffMember = Depends(USERS)) -> Response:
    form = await staff_form(request, staff)
    del form

    def run() -> Response:
        try:
            with database(request).transaction() as session:
                password = users.reset_password(session, staff, user_id)
                user = users.get_user(session, staff.tenant_id, user_id)
                found = users.list_users(session, staff.tenant_id)
                shown = {"email": user.email, "password": password}
        except KvittError as exc:
            return failed(request, staff, exc, "/admin/anvandare")
        context = {"users": found, "roles": ROLES, "done": None, "password": shown}
        return render.page(request, staff, "admin/users.html", context, nav="users")

    return await run_in_threadpool(run)


@router.get("/admin/granskningslogg")
def audit_page(request: Request, staff: StaffMember = Depends(AUDIT)) -> Response:
    before = request.query_params.get("fore", "")
    before_id = whole_number(before, "fore") if before.isdigit() else None
    action = request.query_params.get("action", "")[:60] or None
    rows = read(
        request,
        staff,
        lambda session, tenant: audit_log.entries(
            session, tenant.id, before_id=before_id, limit=PAGE_SIZE + 1, action=action
        ),
    )
    context = {"entries": rows[:PAGE_SIZE], "more": len(rows) > PAGE_SIZE, "action": action or ""}
    return render.page(request, staff, "admin/audit.html", context, nav="audit")


@router.get("/admin/granskningslogg.csv")
def audit_csv(request: Request, staff: StaffMember = Depends(AUDIT)) -> Response:
    rows = read(request, staff, lambda session, tenant: audit_log.entries(session, tenant.id, limit=100_000))
    headers = {
        "Content-Disposition": 'attachment; filename="granskningslogg.csv"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    response = Response(audit_log.to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    return render.with_session(request, staff, response)
