"""*Engagemang*: what the invoices carry besides the bill, for marketing. The engagement report
for a period (per placement and segment: impressions, unique viewers, clicks, CTR, survey answers;
``engagement.report``, as ``GET /api/v1/reports/engagement``, with its CSV), the segments with
their counts, and the placements: offers, information blocks and surveys.

Admins and marketing write segments and placements through the API's own services and models
(``segments.service.create/update/delete`` with ``SegmentCreate``/``SegmentUpdate``,
``engagement.service.create/update/delete`` with ``PlacementCreate``/``PlacementUpdate``): the
same rule language checked at save time (an unknown field, a text compared with a number), the
same https-only addresses. A segment's conditions are typed one a line, ``field op value``
(``admin.rule_lines``), and can be previewed (a count and a few customers) before saving.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kvitt.admin import render
from kvitt.admin.audit import audit, audit_changes
from kvitt.admin.auth import StaffMember, require_staff
from kvitt.admin.common import act, failed, read, require, whole_number
from kvitt.admin.forms import staff_form
from kvitt.admin.nav import roles_of
from kvitt.admin.rule_lines import conditions_from_text, conditions_text, numbered_lines
from kvitt.admin.texts import LOCALES
from kvitt.core import clock
from kvitt.core.clock import STOCKHOLM
from kvitt.core.errors import KvittError, ValidationFailed
from kvitt.engagement import report
from kvitt.engagement import service as placements
from kvitt.engagement.models import Placement
from kvitt.engagement.schemas import PlacementCreate, PlacementUpdate, ReportRow
from kvitt.segments import service as segments
from kvitt.segments.models import Segment
from kvitt.segments.schemas import Condition, SegmentCreate, SegmentUpdate
from kvitt.tenants.models import Tenant

router = APIRouter(include_in_schema=False)
READ = require_staff(*roles_of("engagement"))
WRITERS = ("admin", "marketing")
HOME = "/admin/engagemang"
KINDS = {"offer": "Erbjudande", "info": "Information", "survey": "Enkät"}
CHANNELS = {"web": "Webbfaktura", "email": "E-post", "pdf": "PDF och brev", "sms": "SMS"}
SURVEY_TYPES = {"rating": "Betyg 1–5", "choice": "Val", "text": "Fritext"}
MAX_LISTED = 200  # segments and placements on the page
MAX_PERIOD_DAYS = 3660  # as the API's report
EXAMPLES = 20  # a segment's customers shown on its page


# --- the page -----------------------------------------------------------------------------------


@router.get(HOME)
def engagement_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant) -> dict[str, Any]:
        start, end = period(request.query_params.get("from"), request.query_params.get("to"), tenant, session)
        rows = report.rows(session, tenant, start, end)
        named = segments.definitions(session, tenant.id)
        listed = placements.list_page(session, tenant, limit=MAX_LISTED, starting_after=None).items
        return {
            "start": start,
            "end": end,
            "rows": rows,
            "totals": totals(rows),
            "segments": sorted(named.values(), key=lambda s: s.name.casefold())[:MAX_LISTED],
            "segment_names": {s.id: s.name for s in named.values()},
            "placements": sorted(listed, key=lambda p: (not p.active, p.priority, p.id)),
        }

    try:
        data = read(request, staff, work)
    except ValidationFailed as exc:
        return failed(request, staff, exc, HOME)
    lang = render.language_of(request, staff)
    context = {
        **data,
        "done": request.query_params.get("done"),
        "KINDS": KINDS,
        "CHANNELS": CHANNELS,
        "percent": lambda share: percent(share, lang),
    }
    return render.page(request, staff, "admin/engagement.html", context, nav="engagement")


def percent(share: str, lang: str) -> str:
    """The report's exact share (``"0.0550"``) as a person reads it: 5,5 % (en: 5.5%)."""
    return format_percent(Decimal(share), "#,##0.0 %", locale=LOCALES.get(lang, "sv_SE"))


@router.get(HOME + "/rapport.csv")
def report_csv(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """The report of the page's period as the API's CSV (``/api/v1/reports/engagement.csv``)."""

    def work(session: Session, tenant: Tenant) -> tuple[date, date, str]:
        start, end = period(request.query_params.get("from"), request.query_params.get("to"), tenant, session)
        return start, end, report.csv_text(report.rows(session, tenant, start, end))

    try:
        start, end, text = read(request, staff, work)
    except ValidationFailed as exc:
        return failed(request, staff, exc, HOME)
    name = f"engagement-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={**render.PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def period(raw_from: str | None, raw_to: str | None, tenant: Tenant, session: Session) -> tuple[date, date]:
    """The report's days: as asked, or this month up to the tenant's business day."""
    today = segments.business_date(session, tenant)
    start = day_of(raw_from, "from") or today.replace(day=1)
    end = day_of(raw_to, "to") or today
    for param, day in (("from", start), ("to", end)):
        if (error := clock.report_day_error(day)) is not None:
            raise ValidationFailed(error, param=param)
    if end < start:
        raise ValidationFailed("to: the last day is before the first", param="to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationFailed(f"to: at most {MAX_PERIOD_DAYS} days at a time", param="to")
    return start, end


def day_of(raw: str | None, param: str) -> date | None:
    if not raw or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(f"{param}: write a date as 2026-12-31", param=param) from None


def totals(rows: list[ReportRow]) -> dict[str, Any]:
    impressions, clicks = sum(r.impressions for r in rows), sum(r.clicks for r in rows)
    return {
        "impressions": impressions,
        "clicks": clicks,
        "ctr": report.ratio(clicks, impressions),
        "answers": sum(r.answers for r in rows),
    }


# --- segments -----------------------------------------------------------------------------------


@router.get(HOME + "/segment/ny")
def new_segment_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    values = {"name": "", "match": "all", "conditions": ""}
    return render.page(request, staff, "admin/engagement_segment.html", segment_context(None, values), nav="engagement")


@router.get(HOME + "/segment/{segment_id}")
def segment_page(segment_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant) -> dict[str, Any]:
        segment = segments.get(session, tenant, segment_id)
        members = segments.customers_page(session, tenant, segment.id, limit=EXAMPLES, starting_after=None)
        values = {"name": segment.name, "match": segment.match, "conditions": conditions_text(segment.conditions)}
        return {**segment_context(segment, values), "members": members.items, "more": members.has_more}

    context = {**read(request, staff, work), "done": request.query_params.get("done")}
    return render.page(request, staff, "admin/engagement_segment.html", context, nav="engagement")


def segment_context(segment: Segment | None, values: dict[str, str]) -> dict[str, Any]:
    return {"segment": segment, "values": values, "members": [], "more": False, "preview": None, "done": None}


@router.post(HOME + "/segment/forhandsvisa")
async def preview_segment(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    """How many customers the typed rule holds now, with a few of them; nothing is saved (as
    ``POST /api/v1/segments/preview``). The form comes back as typed."""
    require(staff, *WRITERS)
    form = await staff_form(request, staff)
    segment_id = form.get("segment", "").strip()
    back = f"{HOME}/segment/{segment_id}" if segment_id.isdigit() else f"{HOME}/segment/ny"

    def run() -> Response:
        def work(session: Session, tenant: Tenant) -> dict[str, Any]:
            segment = segments.get(session, tenant, int(segment_id)) if segment_id.isdigit() else None
            fields = segment_fields(form)
            found = segments.preview(session, tenant, fields["match"], fields["conditions"])
            values = {k: form.get(k, "") for k in ("name", "match", "conditions")}
            return {**segment_context(segment, values), "preview": found}

        try:
            context = read(request, staff, work)
        except KvittError as exc:
            return failed(request, staff, exc, back)
        return render.page(request, staff, "admin/engagement_segment.html", context, nav="engagement")

    return await run_in_threadpool(run)


@router.post(HOME + "/segment")
async def create_segment(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        segment = segments.create(session, tenant, SegmentCreate(**segment_fields(form)))
        audit(session, staff, "segment.create", None, segment_snapshot(segment), target=f"segment:{segment.id}")
        return f"{HOME}/segment/{segment.id}?done=saved"

    return await act(request, staff, WRITERS, work, f"{HOME}/segment/ny")


@router.post(HOME + "/segment/{segment_id}")
async def update_segment(segment_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        segment = segments.get(session, tenant, segment_id)
        before = segment_snapshot(segment)
        segments.update(session, tenant, segment.id, SegmentUpdate(**segment_fields(form)))
        after = segment_snapshot(segment)
        audit_changes(session, staff, "segment.update", before, after, target=f"segment:{segment.id}")
        return f"{HOME}/segment/{segment.id}?done=saved"

    return await act(request, staff, WRITERS, work, f"{HOME}/segment/{segment_id}")


@router.post(HOME + "/segment/{segment_id}/ta-bort")
async def delete_segment(segment_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        segment = segments.get(session, tenant, segment_id)
        before = segment_snapshot(segment)
        segments.delete(session, tenant, segment.id)
        audit(session, staff, "segment.delete", before, None, target=f"segment:{segment_id}")
        return f"{HOME}?done=deleted_segment"

    return await act(request, staff, WRITERS, work, f"{HOME}/segment/{segment_id}")


def segment_fields(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's segment fields (``SegmentCreate`` and ``SegmentUpdate`` take them)."""
    match = form.get("match", "all")
    if match not in ("all", "any"):
        raise ValidationFailed("match: all (every condition) or any (one is enough)", param="match")
    conditions = conditions_from_text(form.get("conditions", ""), Condition, "conditions", 20)
    return {"name": form.get("name", "").strip(), "match": match, "conditions": conditions}


def segment_snapshot(segment: Segment) -> dict[str, Any]:
    return {"name": segment.name, "match": segment.match, "conditions": list(segment.conditions)}


# --- placements ---------------------------------------------------------------------------------


@router.get(HOME + "/placering/ny")
def new_placement_page(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    kind = request.query_params.get("typ", "offer")
    return _placement_page(request, staff, None, kind if kind in KINDS else "offer")


@router.get(HOME + "/placering/{placement_id}")
def placement_page(placement_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    return _placement_page(request, staff, placement_id, "")


def _placement_page(request: Request, staff: StaffMember, placement_id: int | None, kind: str) -> Response:
    def work(session: Session, tenant: Tenant) -> dict[str, Any]:
        placement = placements.get(session, tenant, placement_id) if placement_id is not None else None
        named = segments.definitions(session, tenant.id)
        return {
            "placement": placement,
            "values": placement_values(placement, kind),
            "all_segments": sorted(named.values(), key=lambda s: s.name.casefold()),
        }

    context = {
        **read(request, staff, work),
        "done": request.query_params.get("done"),
        "KINDS": KINDS,
        "CHANNELS": CHANNELS,
        "SURVEY_TYPES": SURVEY_TYPES,
    }
    return render.page(request, staff, "admin/engagement_placement.html", context, nav="engagement")


def placement_values(placement: Placement | None, kind: str) -> dict[str, Any]:
    """What the form shows: the placement's fields as the form writes them, or a new one's."""
    if placement is None:
        return {
            "kind": kind,
            **dict.fromkeys(("title", "text", "title_en", "text_en", "url", "image_url", "cta", "cta_en"), ""),
            "survey_type": "rating",
            "choices": "",
            "segments": [],
            "channels": ["web"],
            "starts": "",
            "ends": "",
            "priority": 100,
            "cap": "",
            "active": True,
        }
    survey = placement.survey or {}
    texts = ("title", "text", "title_en", "text_en", "url", "image_url", "cta", "cta_en")
    return {
        "kind": placement.kind,
        **{name: getattr(placement, name) or "" for name in texts},
        "survey_type": survey.get("type", "rating"),
        "choices": "\n".join(survey.get("choices", [])),
        "segments": list(placement.segments),
        "channels": list(placement.channels),
        "starts": local_day(placement.starts_at),
        "ends": local_day(placement.ends_at - timedelta(microseconds=1)) if placement.ends_at else "",
        "priority": placement.priority,
        "cap": placement.cap_per_customer or "",
        "active": placement.active,
    }


def local_day(moment: datetime | None) -> str:
    return moment.astimezone(STOCKHOLM).date().isoformat() if moment else ""


@router.post(HOME + "/placering")
async def create_placement(request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        kind = form.get("kind", "")
        fields = placement_fields(form, kind)
        placement = placements.create(session, tenant, PlacementCreate(kind=kind, **fields))
        audit(session, staff, "placement.create", None, placement_snapshot(placement), target=target(placement))
        return f"{HOME}/placering/{placement.id}?done=saved"

    return await act(request, staff, WRITERS, work, f"{HOME}/placering/ny", reader=placement_form)


@router.post(HOME + "/placering/{placement_id}")
async def update_placement(placement_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        placement = placements.get(session, tenant, placement_id)
        before = placement_snapshot(placement)
        placements.update(session, tenant, placement.id, PlacementUpdate(**placement_fields(form, placement.kind)))
        audit_changes(
            session, staff, "placement.update", before, placement_snapshot(placement), target=target(placement)
        )
        return f"{HOME}/placering/{placement.id}?done=saved"

    return await act(request, staff, WRITERS, work, f"{HOME}/placering/{placement_id}", reader=placement_form)


@router.post(HOME + "/placering/{placement_id}/ta-bort")
async def delete_placement(placement_id: int, request: Request, staff: StaffMember = Depends(READ)) -> Response:
    def work(session: Session, tenant: Tenant, form: dict[str, str]) -> str:
        placement = placements.get(session, tenant, placement_id)
        before = placement_snapshot(placement)
        placements.delete(session, tenant, placement.id)
        audit(session, staff, "placement.delete", before, None, target=f"placement:{placement_id}")
        return f"{HOME}?done=deleted_placement"

    return await act(request, staff, WRITERS, work, f"{HOME}/placering/{placement_id}")


async def placement_form(request: Request, staff: StaffMember) -> dict[str, str]:
    """The form with its checkbox groups (segments, channels) as comma-separated lists."""
    return await staff_form(request, staff, lists=("segments", "channels"))


def placement_fields(form: dict[str, str], kind: str) -> dict[str, Any]:
    """The form as the API's placement fields; an empty text is "none" (the Swedish one is shown)."""

    def text(name: str) -> str | None:
        return form.get(name, "").strip() or None

    fields: dict[str, Any] = {
        "title": form.get("title", "").strip(),
        "text": form.get("text", "").strip(),
        **{name: text(name) for name in ("title_en", "text_en", "url", "image_url", "cta", "cta_en")},
        "segments": [whole_number(v, "segments") for v in form.get("segments", "").split(",") if v.strip()],
        "channels": [v for v in form.get("channels", "").split(",") if v.strip()],
        "starts_at": day_start(form.get("starts", ""), "starts"),
        "ends_at": day_start(form.get("ends", ""), "ends", next_day=True),
        "priority": whole_number(form.get("priority", "") or "100", "priority"),
        "cap_per_customer": whole_number(form["cap"], "cap") if form.get("cap", "").strip() else None,
        "active": form.get("active") == "1",
    }
    if kind == "survey":
        choices = [line for _, line in numbered_lines(form.get("choices", ""), "choices", 10)]
        fields["survey"] = {"type": form.get("survey_type", "rating"), "choices": choices}
    return fields


def day_start(raw: str, param: str, *, next_day: bool = False) -> datetime | None:
    """A day typed in the form as the moment it starts in Sweden (an end day: the next one's
    start, so that the placement shows all of its last day)."""
    day = day_of(raw, param)
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if next_day else day, time(0), tzinfo=STOCKHOLM)


def placement_snapshot(placement: Placement) -> dict[str, Any]:
    names = ("kind", "title", "text", "title_en", "text_en", "url", "image_url", "cta", "cta_en", "priority")
    return {
        **{name: getattr(placement, name) for name in names},
        "survey": dict(placement.survey or {}),
        "segments": list(placement.segments),
        "channels": list(placement.channels),
        "starts_at": placement.starts_at.isoformat() if placement.starts_at else None,
        "ends_at": placement.ends_at.isoformat() if placement.ends_at else None,
        "cap_per_customer": placement.cap_per_customer,
        "active": placement.active,
    }


def target(placement: Placement) -> str:
    return f"placement:{placement.id}"
