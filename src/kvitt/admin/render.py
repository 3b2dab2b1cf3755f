"""Rendering the back office's pages: one Jinja2 environment, Swedish conventions for numbers and
dates in both languages, and the answer's headers (no caching, a strict CSP, the session cookie
moved on).

A feature page is ``page(request, staff, "admin/x.html", {...}, nav="x")``; the template
extends ``admin/base.html``. ``_`` translates, ``money`` formats öre, ``day``/``moment`` format
dates and times (Stockholm).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from kvitt.admin import sessions, texts
from kvitt.admin.auth import StaffMember
from kvitt.admin.nav import NAV
from kvitt.admin.texts import LANGUAGES, LOCALES, translator
from kvitt.core.clock import STOCKHOLM
from kvitt.core.money import format_amount
from kvitt.web.routes import ASSET_URLS, HTMX_CONFIG

HERE = Path(__file__).parent
WEB_CSS = HERE.parent / "web" / "static" / "kvitt.css"
# The web invoice's stylesheet, then the back office's additions: the same look.
CSS = WEB_CSS.read_text(encoding="utf-8") + "\n" + (HERE / "static" / "admin.css").read_text(encoding="utf-8")
CSS_NAME = f"admin.{hashlib.sha256(CSS.encode()).hexdigest()[:10]}.css"
CSS_URL = f"/admin/assets/{CSS_NAME}"
JS = (HERE / "static" / "admin.js").read_text(encoding="utf-8")
JS_NAME = f"admin.{hashlib.sha256(JS.encode()).hexdigest()[:10]}.js"
JS_URL = f"/admin/assets/{JS_NAME}"

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def money(ore: int | None, lang: str = "sv") -> str:
    return "" if ore is None else format_amount(int(ore), LOCALES.get(lang, "sv_SE"))


def day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(STOCKHOLM).date()
    return value.isoformat()


def moment(value: datetime | None, lang: str = "sv") -> str:
    if value is None:
        return ""
    return format_datetime(value.astimezone(STOCKHOLM), "yyyy-MM-dd HH:mm", locale=LOCALES.get(lang, "sv_SE"))


templates.filters["day"] = day
templates.tests["date"] = lambda value: isinstance(value, date)
templates.globals["CSS_URL"] = CSS_URL
templates.globals["JS_URL"] = JS_URL
templates.globals["HTMX_URL"] = ASSET_URLS["htmx"]
templates.globals["FAVICON_URL"] = ASSET_URLS["favicon"]
templates.globals["HTMX_CONFIG"] = HTMX_CONFIG
templates.globals["CHANNEL"] = texts.CHANNEL_LABELS
templates.globals["STATE"] = texts.STATE_LABELS
templates.globals["STATE_TONE"] = texts.STATE_TONES
templates.globals["DONE"] = texts.DONE
templates.globals["KIND"] = texts.DEVIATION_KINDS


def language_of(request: Request, staff: StaffMember | None) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    if staff is not None:
        return staff.language if staff.language in LANGUAGES else "sv"
    cookie = request.cookies.get("kvitt_admin_lang")
    return cookie if cookie in LANGUAGES else "sv"


def render(name: str, context: dict[str, Any]) -> str:
    return templates.get_template(name).render(**context)


def html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def page(
    request: Request,
    staff: StaffMember,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    nav: str,
    status_code: int = 200,
) -> Response:
    """A page of the back office in the shell (navigation of what the staff member may open)."""
    lang = language_of(request, staff)
    tr = translator(lang)
    full = {
        "lang": lang,
        "_": tr,
        "money": lambda ore: money(ore, lang),
        "moment": lambda value: moment(value, lang),
        "staff": staff,
        "nav": [item for item in NAV if staff.can(*item.roles)],
        "current": nav,
        "csrf": staff.csrf,
        "path": request.url.path,
        **(context or {}),
    }
    return with_session(request, staff, html(render(template, full), status_code))


def with_session(request: Request, staff: StaffMember | None, response: Response) -> Response:
    """The answer with the moved-on session cookie, when the session needs one."""
    if staff is not None and staff.cookie is not None:
        set_session_cookie(request, response, staff.cookie)
    return response


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        sessions.COOKIE,
        value,
        max_age=sessions.MAX_SECONDS,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def see_other(request: Request, staff: StaffMember | None, url: str) -> Response:
    """Post/redirect/get: 303 to the page (htmx follows it and swaps the body)."""
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    return with_session(request, staff, response)
