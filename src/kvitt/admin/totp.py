"""The optional second factor: a TOTP code (RFC 6238, 6 digits, 30 s; pyotp) after the password.

- ``/admin/tvastegs``: a staff member turns it on (scan the QR code or type the secret, then
  confirm with a code) or off (with a code). The secret offered travels in the form with an HMAC
  made with the user's session key, and is stored only when a code for it is right.
- Login: after the right password of a user with a secret, no session yet: a short-lived cookie
  ``kvitt_admin_2fa`` (5 minutes, signed with the user's key) and the code page
  ``/admin/login/kod``; the right code gives the session. A code works once (the accepted time
  step is kept); a wrong code counts as a failed login (five in a row lock the account).
- An admin's "new one-time password" for a user also removes their second factor (a lost phone).
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pyotp
import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from kvitt.admin import render, sessions, throttle, users
from kvitt.admin.audit import audit
from kvitt.admin.auth import StaffMember, now_seconds, require_staff, same_origin
from kvitt.admin.common import database
from kvitt.admin.forms import FormRejected, read_form, staff_form
from kvitt.admin.models import StaffUser
from kvitt.admin.texts import translator
from kvitt.core.db import utcnow

router = APIRouter(include_in_schema=False)
PENDING_COOKIE = "kvitt_admin_2fa"
PENDING_SECONDS = 5 * 60
ISSUER = "Kvitt"


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def pending_cookie(user: StaffUser, next_url: str, now: int) -> str:
    payload = f"{user.id}.{now + PENDING_SECONDS}.{next_url.encode().hex()}"
    return f"{payload}.{_sign(user.session_key, '2fa.' + payload)}"


def accept_code(user: StaffUser, code: str, at: float | None = None) -> bool:
    """Whether the code is right now (one step of clock drift either way) and not used before;
    the step is remembered."""
    if user.totp_secret is None:
        return False
    code = code.replace(" ", "").strip()
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = time.time() if at is None else at
    for drift in (0, -1, 1):
        step = int(now // totp.interval) + drift
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def _offer_signature(staff: StaffMember, secret: str) -> str:
    return _sign(staff.session_key, f"totp-offer.{secret}")


def _qr_svg(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(scale=4, title="QR")
    return Markup(svg)  # noqa: S704 - segno's own SVG of our own text


@router.get("/admin/tvastegs")
def setup_page(request: Request, staff: StaffMember = Depends(require_staff())) -> Response:
    return _setup(request, staff, status_code=200, error=None)


def _setup(request: Request, staff: StaffMember, *, status_code: int, error: str | None) -> Response:
    with database(request).read() as session:
        enabled = session.scalar(select(StaffUser.totp_secret).where(StaffUser.id == staff.id)) is not None
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name=ISSUER)
    context = {
        "enabled": enabled,
        "secret": secret,
        "offer": _offer_signature(staff, secret),
        "qr": _qr_svg(uri),
        "error": error,
        "done": request.query_params.get("done"),
    }
    return render.page(request, staff, "admin/totp.html", context, nav="", status_code=status_code)


@router.post("/admin/tvastegs")
async def change(request: Request, staff: StaffMember = Depends(require_staff())) -> Response:
    form = await staff_form(request, staff)
    return await run_in_threadpool(_change, request, staff, form)


def _change(request: Request, staff: StaffMember, form: dict[str, str]) -> Response:
    turn_on = form.get("action") == "on"
    with database(request).transaction() as session:
        user = session.get(StaffUser, staff.id)
        assert user is not None
        if turn_on:
            secret = form.get("secret", "")
            if not hmac.compare_digest(_offer_signature(staff, secret), form.get("offer", "")):
                ok = False
            else:
                user.totp_secret, user.totp_last_step = secret, None
                ok = accept_code(user, form.get("code", ""))
                if not ok:
                    user.totp_secret = None
        else:
            ok = accept_code(user, form.get("code", ""))
            if ok:
                user.totp_secret, user.totp_last_step = None, None
        if ok:
            action = "staff.totp_on" if turn_on else "staff.totp_off"
            audit(session, staff, action, None, {"totp": turn_on}, target=f"staff_user:{staff.id}")
    if not ok:
        return _setup(request, staff, status_code=422, error="Fel kod. Försök igen med koden som visas nu.")
    return render.see_other(request, staff, f"/admin/tvastegs?done={'on' if turn_on else 'off'}")


# --- the login's second step -------------------------------------------------------------------------


def _code_page(request: Request, *, status_code: int = 200, error: str | None = None) -> Response:
    lang = render.language_of(request, None)
    context = {"lang": lang, "_": translator(lang), "error": error}
    return render.html(render.render("admin/login_code.html", context), status_code)


@router.get("/admin/login/kod")
def code_form(request: Request) -> Response:
    if PENDING_COOKIE not in request.cookies:
        return render.see_other(request, None, "/admin/login")
    return _code_page(request)


@router.post("/admin/login/kod")
async def code(request: Request) -> Response:
    try:
        form = await read_form(request)
    except FormRejected as exc:
        return render.html(f"<!doctype html><title>{exc.reason}</title><h1>{exc.reason}</h1>", exc.status_code)
    return await run_in_threadpool(_code, request, form)


def _code(request: Request, form: dict[str, str]) -> Response:
    parts = request.cookies.get(PENDING_COOKIE, "").split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit() or not same_origin(request):
        return render.see_other(request, None, "/admin/login")
    staff_id, expires, next_hex, signature = int(parts[0]), int(parts[1]), parts[2], parts[3]
    with database(request).transaction() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.id == staff_id).with_for_update())
        payload = f"{staff_id}.{expires}.{next_hex}"
        valid = (
            user is not None
            and user.active
            and expires >= now_seconds()
            and hmac.compare_digest(_sign(user.session_key, "2fa." + payload), signature)
        )
        if not valid or user is None:
            return render.see_other(request, None, "/admin/login")
        now = utcnow()
        keys = throttle.keys_for(user.email, request.client.host if request.client else "unknown")
        wait = throttle.wait_seconds(session, keys, now)
        if wait is not None:  # the password step's count, shared by every process: the code is not tried
            refused = _code_page(request, status_code=429, error=throttle.TOO_MANY)
            refused.headers["Retry-After"] = str(wait)
            return refused
        locked = user.locked_until is not None and user.locked_until > now
        if locked or not accept_code(user, form.get("code", "")):
            if not locked:
                users.count_failure(user)
            throttle.failed(session, keys, now)
            return _code_page(request, status_code=401, error="Fel kod, eller för många försök.")
        throttle.succeeded(session, keys)
        audit(session, user, "staff.login", None, {"second_factor": "totp"}, target=f"staff_user:{user.id}")
        cookie = sessions.encode(sessions.start(user.id, now_seconds()), user.session_key)
        target = "/admin/password" if user.must_change_password else bytes.fromhex(next_hex).decode()
    response = render.see_other(request, None, target)
    render.set_session_cookie(request, response, cookie)
    response.delete_cookie(PENDING_COOKIE, path="/admin")
    return response
