"""The engagement area of the web invoice: offers, information and surveys that fit the
recipient (``kvitt.engagement``), the click redirect ``/e/<token>`` and survey answers.

Nothing here can break the page: choosing placements is wrapped (a failure logs and shows
none), impressions are recorded after the answer has gone out, never on its critical path.
A click's token is ``<invoice token>.<placement id>.<channel letter>``
(``engagement.click_token``): as unguessable as the web invoice's own address, the letter names
the channel the link was shown on, and the redirect goes only to the placement's stored https
target.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask, BackgroundTasks
from starlette.concurrency import run_in_threadpool

from kvitt.core.db import Database
from kvitt.engagement import service as engagement
from kvitt.engagement.service import Shown
from kvitt.invoices.models import Invoice
from kvitt.web import service, visits
from kvitt.web.view import page_url

SURVEY_PURPOSE = "survey"
log = structlog.get_logger("kvitt.web.engagement")
router = APIRouter(include_in_schema=False)


def shown(session: Session, found: service.WebInvoice, lang: str, now: datetime) -> list[Shown]:
    """The placements for this page, or none if anything goes wrong (a rule must never break
    a page view)."""
    if found.customer is None:
        return []
    try:
        # Only reads, in the page's read-only unit (autocommit on PostgreSQL: no savepoint there).
        return engagement.fitting(
            session, found.tenant, found.invoice, found.customer, channel="web", lang=lang, now=now
        )
    except Exception as exc:
        # May swallow any error of the engagement feature (a rule, a placement); the page is shown
        # without the area, and the log says why.
        log.warning("engagement_not_shown", invoice_id=found.invoice.id, error=str(exc)[:300])
        return []


def digest(items: list[Shown]) -> str:
    """What the area shows, for the page's ETag."""
    return hashlib.blake2b(repr(items).encode(), digest_size=8).hexdigest()


def count_impressions(database: Database, invoice: Invoice, items: list[Shown], now: datetime) -> None:
    """After the answer went out: the impressions of what was shown, once per visit (a reload
    within ``engagement.SESSION`` counts nothing). A reload only reads; a failure loses the
    count, never the page."""
    try:
        with database.read() as session:
            seen = engagement.seen_within_session(session, invoice, [i.id for i in items], channel="web", now=now)
        if all(item.id in seen for item in items):
            return
        with database.transaction() as session:
            engagement.record_impressions(session, invoice, items, channel="web", now=now)
    except Exception as exc:
        # May swallow any error: an impression lost is better than a page answer broken.
        log.warning("engagement_impressions_not_counted", invoice_id=invoice.id, error=str(exc)[:300])


def click_url(invoice_token: str, placement_id: int, channel: str = engagement.WEB) -> str:
    return f"/e/{engagement.click_token(invoice_token, placement_id, channel)}"


@router.get("/e/{token}")
def offer_click(token: str, request: Request) -> Response:
    """Count the click on the channel its link was shown on, then 302 to the offer's stored
    target; anything unknown is the 404 page."""
    from kvitt.web.routes import not_found

    parsed = engagement.parse_click_token(token)
    if parsed is None or not service.is_well_formed(parsed[0]):
        return not_found()
    invoice_token, placement, channel = parsed
    database: Database = request.app.state.db
    with database.transaction() as session:
        found = service.find_issued(session, invoice_token)
        target = engagement.click(session, found.invoice, placement, channel=channel) if found is not None else None
    if target is None:
        return not_found()
    return RedirectResponse(
        target, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.post("/i/{token}/survey/{placement_id}")
async def survey_answer(token: str, placement_id: int, request: Request) -> Response:
    from kvitt.web.routes import read_form

    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(_survey_answer, request, token, placement_id, form)


def _survey_answer(request: Request, token: str, placement_id: int, form: dict[str, str]) -> Response:
    from kvitt.web.routes import _trusted, not_found

    database: Database = request.app.state.db
    with database.transaction() as session:
        found = service.find_issued(session, token)
        if found is None:
            return not_found()
        visit = visits.visit_of(session, found.tenant.id, found.invoice.id)
        outcome = "refused"
        if _trusted(request, visit, SURVEY_PURPOSE, form):
            try:
                engagement.answer(session, found.invoice, placement_id, form)
                outcome = "survey"
            except engagement.AnswerRefused:
                outcome = "survey_invalid"
    lang = form.get("lang") if form.get("lang") in ("sv", "en") else None
    url = page_url(token, lang=lang)
    url += ("&" if "?" in url else "?") + f"done={outcome}#placement-{placement_id}"
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def with_impressions(
    count: BackgroundTask | None, database: Database, invoice: Invoice, items: list[Shown], now: datetime
) -> BackgroundTasks | BackgroundTask | None:
    """The page's after-answer work: its view count (if any) and the impressions of what it showed."""
    if not items:
        return count
    tasks = BackgroundTasks()
    if count is not None:
        tasks.add_task(count)
    tasks.add_task(count_impressions, database, invoice, items, now)
    return tasks
