"""The back office's shell: login, logout, password, language, assets, the error pages and the
placeholder *Översikt* at ``/admin`` (replaced by ``kvitt.admin.dashboard`` when that exists)."""

from __future__ import annotations

import gzip

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from kvitt.admin import render, sessions, throttle, totp, users
from kvitt.admin.audit import audit
from kvitt.admin.auth import (
    Forbidden,
    LoginRequired,
    PasswordChangeRequired,
    StaffMember,
    load_staff,
    now_seconds,
    require_staff,
    same_origin,
)
from kvitt.admin.forms import FormRejected, read_form, staff_form
from kvitt.admin.models import StaffUser
from kvitt.admin.nav import roles_of
from kvitt.admin.texts import LANGUAGES, translator
from kvitt.core.db import Database, utcnow

router = APIRouter(include_in_schema=False)

ASSETS = {
    render.CSS_NAME: (render.CSS.encode(), "text/css; charset=utf-8"),
    render.JS_NAME: (render.JS.encode(), "text/javascript; charset=utf-8"),
}
GZIPPED = {name: gzip.compress(body, 9, mtime=0) for name, (body, _) in ASSETS.items()}


@router.get("/admin/assets/{name}")
def asset(name: str, request: Request) -> Response:
    found = ASSETS.get(name)
    if found is None:
        return render.html("<!doctype html><title>Not found</title><h1>Not found</h1>", 404)
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(GZIPPED[name], media_type=found[1], headers={**headers, "Content-Encoding": "gzip"})
    return Response(found[0], media_type=found[1], headers=headers)


# --- login -----------------------------------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    email: str = "",
    next_url: str = "",
) -> Response:
    lang = render.language_of(request, None)
    context = {
        "lang": lang,
        "_": translator(lang),
        "error": error,
        "notice": notice,
        "email": email,
        "next": next_url,
        "other_lang": "en" if lang == "sv" else "sv",
    }
    return render.html(render.render("admin/login.html", context), status_code)


def _safe_next(value: str) -> str:
    """Only a path of the back office (no other site, no scheme-relative //host)."""
    return value if value.startswith("/admin") and not value.startswith("//") and "\\" not in value else "/admin"


@router.get("/admin/login")
def login_form(request: Request) -> Response:
    notices = {"out": "Du är utloggad.", "expired": "Din session har gått ut. Logga in igen."}
    notice = notices.get(request.query_params.get("done", ""))
    return _login_page(request, notice=notice, next_url=_safe_next(request.query_params.get("next", "/admin")))


@router.post("/admin/login")
async def login(request: Request) -> Response:
    try:
        form = await read_form(request)
    except FormRejected as exc:
        return render.html(f"<!doctype html><title>{exc.reason}</title><h1>{exc.reason}</h1>", exc.status_code)
    return await run_in_threadpool(_login, request, form)


TOO_MANY = throttle.TOO_MANY


def _login(request: Request, form: dict[str, str]) -> Response:
    address = request.client.host if request.client else "unknown"
    email, password = form.get("email", "").strip(), form.get("password", "")
    next_url = _safe_next(form.get("next", "/admin"))
    wrong = "Fel e-postadress eller lösenord, eller för många försök. Vänta en stund och försök igen."
    if not same_origin(request):
        return _login_page(request, status_code=403, error=wrong, email=email, next_url=next_url)
    database: Database = request.app.state.db
    keys = throttle.keys_for(email, address)
    with database.transaction() as session:
        now = utcnow()
        wait = throttle.wait_seconds(session, keys, now)
        user = users.authenticate(session, email, password, now) if wait is None else None
        if wait is None and user is None:
            throttle.failed(session, keys, now)
        elif user is not None and user.totp_secret is None:
            throttle.succeeded(session, keys)  # with a second factor, its right code clears it
        second_step = user is not None and user.totp_secret is not None
        if user is not None and second_step:
            pending = totp.pending_cookie(user, next_url, now_seconds())
        elif user is not None:
            audit(session, user, "staff.login", None, None, target=f"staff_user:{user.id}")
            cookie = sessions.encode(sessions.start(user.id, now_seconds()), user.session_key)
            must_change = user.must_change_password
    if wait is not None:  # counted in the database: the same for every process (kvitt.admin.throttle)
        response = _login_page(request, status_code=429, error=TOO_MANY, email=email, next_url=next_url)
        response.headers["Retry-After"] = str(wait)
        return response
    if user is None:
        return _login_page(request, status_code=401, error=wrong, email=email, next_url=next_url)
    if second_step:  # the password was right: now the code (kvitt.admin.totp)
        response = render.see_other(request, None, "/admin/login/kod")
        response.set_cookie(
            totp.PENDING_COOKIE,
            pending,
            max_age=totp.PENDING_SECONDS,
            path="/admin",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response
    response = render.see_other(request, None, "/admin/password" if must_change else next_url)
    render.set_session_cookie(request, response, cookie)
    return response


@router.post("/admin/logout")
async def logout(request: Request, staff: StaffMember = Depends(require_staff())) -> Response:
    await staff_form(request, staff)
    return await run_in_threadpool(_logout, request, staff)


def _logout(request: Request, staff: StaffMember) -> Response:
    database: Database = request.app.state.db
    with database.transaction() as session:
        user = session.get(StaffUser, staff.id)
        if user is not None:
            users.end_sessions(user)  # the cookie is worthless from now on, wherever it is kept
            audit(session, staff, "staff.logout", None, None, target=f"staff_user:{staff.id}")
    response = render.see_other(request, None, "/admin/login?done=out")
    response.delete_cookie(sessions.COOKIE, path="/admin")
    return response


# --- password and language -------------------------------------------------------------------------

PASSWORD_PROBLEMS = {
    "wrong_password": "Fel lösenord.",
    "password_too_short": "Lösenordet är för kort (minst 10 tecken).",
    "password_too_long": "Lösenordet är för långt.",
    "password_unchanged": "Välj ett annat lösenord än det nuvarande.",
    "passwords_differ": "Lösenorden är inte lika.",
}


@router.get("/admin/password")
def password_form(request: Request, staff: StaffMember = Depends(require_staff())) -> Response:
    done = request.query_params.get("done") == "1"
    return render.page(request, staff, "admin/password.html", {"error": None, "done": done}, nav="")


@router.post("/admin/password")
async def change_password(request: Request, staff: StaffMember = Depends(require_staff())) -> Response:
    form = await staff_form(request, staff)
    return await run_in_threadpool(_change_password, request, staff, form)


def _change_password(request: Request, staff: StaffMember, form: dict[str, str]) -> Response:
    database: Database = request.app.state.db
    problem = "passwords_differ" if form.get("new", "") != form.get("again", "") else None
    cookie = None
    with database.transaction() as session:
        user = session.get(StaffUser, staff.id)
        assert user is not None
        if problem is None:
            problem = users.change_password(session, user, form.get("current", ""), form.get("new", ""))
        if problem is None:
            audit(session, staff, "staff.change_password", None, None, target=f"staff_user:{staff.id}")
            # The new key ended every session; this one goes on with a new cookie.
            cookie = sessions.encode(sessions.start(user.id, now_seconds()), user.session_key)
    if problem is not None:
        context = {"error": PASSWORD_PROBLEMS[problem], "done": False}
        return render.page(request, staff, "admin/password.html", context, nav="", status_code=422)
    response = render.see_other(request, None, "/admin/password?done=1")
    assert cookie is not None
    render.set_session_cookie(request, response, cookie)
    return response


@router.post("/admin/language")
async def change_language(request: Request, staff: StaffMember = Depends(require_staff())) -> Response:
    form = await staff_form(request, staff)
    lang = form.get("lang", "")
    if lang in LANGUAGES:
        database: Database = request.app.state.db
        with database.transaction() as session:
            user = session.scalar(
                select(StaffUser).where(StaffUser.id == staff.id, StaffUser.tenant_id == staff.tenant_id)
            )
            if user is not None:
                user.language = lang
    return render.see_other(request, staff, _safe_next(form.get("next", "/admin")))


# --- the placeholder overview -----------------------------------------------------------------------


def overview_placeholder(
    request: Request, staff: StaffMember = Depends(require_staff(*roles_of("overview")))
) -> Response:
    return render.page(request, staff, "admin/home.html", {}, nav="overview")


# --- errors ---------------------------------------------------------------------------------------


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        expired = sessions.COOKIE in request.cookies
        url = "/admin/login?next=" + exc.next_url + ("&done=expired" if expired else "")
        if request.headers.get("hx-request"):  # htmx: a whole-page visit to the login page
            return Response(status_code=204, headers={"HX-Redirect": url})
        response = render.see_other(request, None, url)
        if expired:
            response.delete_cookie(sessions.COOKIE, path="/admin")
        return response

    @app.exception_handler(PasswordChangeRequired)
    async def password_required(request: Request, _: PasswordChangeRequired) -> Response:
        return render.see_other(request, None, "/admin/password")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        staff = exc.staff or load_staff(request)
        if staff is None:
            return render.html("<!doctype html><title>Forbidden</title><h1>Forbidden</h1>", 403)
        text = (
            "Formuläret gick inte att skicka. Ladda om sidan och försök igen."
            if exc.reason == "csrf"
            else "Din roll får inte öppna den här sidan eller göra det här."
        )
        context = {"title": "Åtkomst nekad", "text": text}
        return render.page(request, staff, "admin/error.html", context, nav="", status_code=403)

    @app.exception_handler(FormRejected)
    async def form_rejected(_: Request, exc: FormRejected) -> Response:
        return render.html(f"<!doctype html><title>{exc.reason}</title><h1>{exc.reason}</h1>", exc.status_code)


def not_found(request: Request, staff: StaffMember) -> Response:
    context = {"title": "Hittades inte", "text": "Det finns inget sådant här."}
    return render.page(request, staff, "admin/error.html", context, nav="", status_code=404)
