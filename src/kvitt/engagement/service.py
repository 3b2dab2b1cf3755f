"""Placements: save (checked), choose those that fit a recipient, and measure them.

- :func:`fitting` picks the placements an invoice's recipient sees on a channel now: active, in
  their schedule, on that channel, in one of their segments (or for everyone), under their cap;
  by priority. Segment membership is one query (``segments.service.memberships``).
- What one impression is, per channel (docs/engagement.md, "Measured"):
  web: :func:`record_impressions`, once per invoice and placement within a visit
  (:data:`SESSION`), called after the page's answer has gone out; email, SMS and PDF/letter:
  :func:`record_sent`, once per invoice, placement and channel when the message or letter is
  handed over (a unique index, not code, keeps a resend or a retried job from counting again).
- :func:`click` and :func:`answer` record a call to action and a survey answer, and put an
  ``offer_clicked`` / ``survey_answered`` event on the invoice's timeline (which publishes
  ``invoice.offer_clicked`` / ``invoice.survey_answered`` for event chains and webhooks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.core.db import READ_ONLY, bulk_insert, is_postgresql, utcnow
from kvitt.core.errors import NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers.models import Customer
from kvitt.engagement.models import EngagementEvent, Placement, SurveyAnswer
from kvitt.engagement.schemas import PlacementCreate, PlacementUpdate, Survey, check_kind, safe_url
from kvitt.invoices.models import Invoice
from kvitt.invoices.timeline import Happening, record
from kvitt.segments import service as segments
from kvitt.tenants.models import Tenant

SESSION = timedelta(minutes=30)  # a reload within this time of the last impression is the same visit
MAX_SHOWN = 5
IMPRESSION, CLICK = "impression", "click"
WEB, EMAIL, SMS, PDF = "web", "email", "sms", "pdf"
SENT_CHANNELS = (EMAIL, SMS, PDF)  # one impression per invoice, placement and channel
# The channel a click link was shown on, one letter at the end of its token (an SMS is short).
CHANNEL_CODES = {"w": WEB, "e": EMAIL, "p": PDF, "s": SMS}
CODE_OF = {channel: code for code, channel in CHANNEL_CODES.items()}
IMPRESSIONS_LOCK = 0x4B45  # advisory-lock namespace for a web invoice's impressions ("KE")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_-]{1,60})\}")


@dataclass(frozen=True)
class Shown:
    """One placement as a recipient sees it: texts in their language, placeholders filled in
    (plain text: the template escapes it)."""

    id: int
    kind: str
    title: str
    text: str
    cta: str | None
    image_url: str | None
    survey: dict[str, Any]
    segment_id: int | None
    answered: bool


# --- CRUD -------------------------------------------------------------------------------------------


def create(session: Session, tenant: Tenant, data: PlacementCreate) -> Placement:
    _check_segments(session, tenant, data.segments)
    values = data.model_dump()
    values["survey"] = data.survey.model_dump() if data.survey else {}
    placement = Placement(tenant_id=tenant.id, **values)
    session.add(placement)
    session.flush()
    return placement


def update(session: Session, tenant: Tenant, placement_id: int, data: PlacementUpdate) -> Placement:
    placement = get(session, tenant, placement_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("title", "text", "segments", "channels", "priority", "active"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be removed", param=field)
    if "segments" in changes:
        _check_segments(session, tenant, changes["segments"])
    if "survey" in changes:
        changes["survey"] = changes["survey"] or {}
    for field, value in changes.items():
        setattr(placement, field, value)
    try:
        check_kind(placement.kind, placement.url, placement.survey)
    except ValueError as exc:
        raise ValidationFailed(str(exc), param="url" if "url" in str(exc) else "survey") from exc
    if placement.starts_at and placement.ends_at and placement.ends_at <= placement.starts_at:
        raise ValidationFailed("ends_at must be after starts_at", param="ends_at")
    session.flush()
    return placement


def delete(session: Session, tenant: Tenant, placement_id: int) -> None:
    """Gone from every invoice; its impressions, clicks and answers stay in the report."""
    session.delete(get(session, tenant, placement_id))
    session.flush()


def get(session: Session, tenant: Tenant, placement_id: int) -> Placement:
    placement = session.scalar(select(Placement).where(Placement.tenant_id == tenant.id, Placement.id == placement_id))
    if placement is None:
        raise NotFound(f"no placement {placement_id}", param="placement")
    return placement


def list_page(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[Placement]:
    query = select(Placement).where(Placement.tenant_id == tenant.id)
    return paginate(session, query, Placement.id, limit=limit, starting_after=starting_after)


def _check_segments(session: Session, tenant: Tenant, ids: list[int]) -> None:
    found = segments.definitions(session, tenant.id, ids)
    for index, segment_id in enumerate(ids):
        if segment_id not in found:
            raise ValidationFailed(f"no segment {segment_id}", param=f"segments[{index}]", code="unknown_segment")


# --- what a recipient sees ----------------------------------------------------------------------------


def fitting(
    session: Session, tenant: Tenant, invoice: Invoice, customer: Customer, *, channel: str, lang: str, now: datetime
) -> list[Shown]:
    """The placements the invoice's recipient sees on ``channel`` now, by priority.

    In a transaction (a PDF made in its request's or a job's transaction) the evaluation runs
    inside a SAVEPOINT: a rule that fails in the database (one written past the API's checks)
    rolls back to it and raises, and the caller's transaction goes on (on PostgreSQL a failed
    statement otherwise aborts the whole transaction, and the PDF's next read would fail). A
    read-only unit of work (the web invoice) has no transaction to protect: no SAVEPOINT."""
    langs = {customer.id: lang}
    customers = {customer.id: customer}
    if session.connection().get_execution_options().get(READ_ONLY):
        return fitting_many(session, tenant, [invoice], customers, channel=channel, langs=langs, now=now)[invoice.id]
    with session.begin_nested():
        return fitting_many(session, tenant, [invoice], customers, channel=channel, langs=langs, now=now)[invoice.id]


def fitting_many(
    session: Session,
    tenant: Tenant,
    invoices: list[Invoice],
    customers: dict[int, Customer],
    *,
    channel: str,
    langs: dict[int, str],
    now: datetime,
) -> dict[int, list[Shown]]:
    """:func:`fitting` for many invoices at once (a delivery batch): the placements, the
    memberships, the caps and the answers are read with one query each."""
    found: dict[int, list[Shown]] = {invoice.id: [] for invoice in invoices}
    candidates = [p for p in _live(session, tenant.id, now) if channel in (p.channels or [])]
    if not candidates or not invoices:
        return found
    wanted = sorted({s for p in candidates for s in p.segments or []})
    ids = sorted({invoice.customer_id for invoice in invoices})
    member = segments.memberships(session, tenant, ids, wanted) if wanted else {}
    capped = [p for p in candidates if p.cap_per_customer]
    seen = _impressions_per_placement(session, tenant.id, ids, capped)
    answered = _answered(session, tenant.id, [i.id for i in invoices], [p.id for p in candidates if p.kind == "survey"])
    for invoice in invoices:  # what this call hands out counts against the caps as it goes
        customer = customers.get(invoice.customer_id)
        if customer is None:
            continue
        mine = member.get(customer.id, set())
        shown = []
        for placement in candidates:
            segment_id = next((s for s in placement.segments if s in mine), None)
            if placement.segments and segment_id is None:
                continue
            if placement.cap_per_customer and seen.get((customer.id, placement.id), 0) >= placement.cap_per_customer:
                continue
            done = (invoice.id, placement.id) in answered
            shown.append(_shown(placement, customer, langs.get(customer.id, "sv"), segment_id, done))
        # An SMS carries one offer as a link (docs/engagement.md): the others are not shown there.
        found[invoice.id] = [s for s in shown if s.kind == "offer"][:1] if channel == SMS else shown[:MAX_SHOWN]
        # Two messages of one batch to the same customer (a reminder each for two invoices) must
        # not both show a placement the cap allows once more.
        for item in found[invoice.id]:
            seen[(customer.id, item.id)] = seen.get((customer.id, item.id), 0) + 1
    return found


# Built once, with bound parameters: every web invoice page asks it, and building the
# statement and its cache key was most of its cost (issue 20).
_LIVE = (
    select(Placement)
    .where(
        Placement.tenant_id == bindparam("tenant_id"),
        Placement.active.is_(True),
        (Placement.starts_at.is_(None)) | (Placement.starts_at <= bindparam("now")),
        (Placement.ends_at.is_(None)) | (Placement.ends_at > bindparam("now")),
    )
    .order_by(Placement.priority, Placement.id)
)


def _live(session: Session, tenant_id: int, now: datetime) -> list[Placement]:
    return list(session.scalars(_LIVE, {"tenant_id": tenant_id, "now": now}))


def _impressions_per_placement(
    session: Session, tenant_id: int, customer_ids: list[int], capped: list[Placement]
) -> dict[tuple[int, int], int]:
    if not capped:
        return {}
    query = (
        select(EngagementEvent.customer_id, EngagementEvent.placement_id, func.count(EngagementEvent.id))
        .where(
            EngagementEvent.tenant_id == tenant_id,
            EngagementEvent.customer_id.in_(customer_ids),
            EngagementEvent.kind == IMPRESSION,
            EngagementEvent.placement_id.in_([p.id for p in capped]),
        )
        .group_by(EngagementEvent.customer_id, EngagementEvent.placement_id)
    )
    return {(customer_id, placement_id): count for customer_id, placement_id, count in session.execute(query)}


def _answered(session: Session, tenant_id: int, invoice_ids: list[int], survey_ids: list[int]) -> set[tuple[int, int]]:
    if not survey_ids:
        return set()
    query = select(SurveyAnswer.invoice_id, SurveyAnswer.placement_id).where(
        SurveyAnswer.tenant_id == tenant_id,
        SurveyAnswer.invoice_id.in_(invoice_ids),
        SurveyAnswer.placement_id.in_(survey_ids),
    )
    return {(invoice_id, placement_id) for invoice_id, placement_id in session.execute(query)}


def _shown(placement: Placement, customer: Customer, lang: str, segment_id: int | None, answered: bool) -> Shown:
    english = lang == "en"
    title = (placement.title_en if english and placement.title_en else placement.title) or ""
    text = (placement.text_en if english and placement.text_en else placement.text) or ""
    cta = placement.cta_en if english and placement.cta_en else placement.cta
    return Shown(
        id=placement.id,
        kind=placement.kind,
        title=fill(title, customer),
        text=fill(text, customer),
        cta=cta,
        image_url=placement.image_url,
        survey=dict(placement.survey or {}),
        segment_id=segment_id,
        answered=answered,
    )


def fill(text: str, customer: Customer) -> str:
    """``{contract_end}``-style placeholders from the customer's attributes (also ``{name}``,
    ``{customer_no}``); an unknown one is left empty. Plain text: whoever shows it escapes it."""
    values: dict[str, Any] = {**(customer.attributes or {}), "name": customer.name, "customer_no": customer.customer_no}

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        return "" if found is None or isinstance(found, dict | list) else str(found)

    return _PLACEHOLDER.sub(value, text)


# --- measured -----------------------------------------------------------------------------------------


def record_impressions(session: Session, invoice: Invoice, shown: list[Shown], *, channel: str, now: datetime) -> int:
    """One web impression per placement shown, unless this invoice's page showed it within
    :data:`SESSION` (a reload is the same visit); returns how many were recorded.

    Two views of the same invoice at the same moment are counted one after the other: on
    PostgreSQL under a transaction-scoped advisory lock per invoice, on SQLite under the write
    lock every write transaction takes first. Impressions on other channels (an email sent a
    minute ago) do not make a view a reload."""
    if not shown:
        return 0
    if is_postgresql(session):
        key = invoice.id % 2_147_483_647
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": IMPRESSIONS_LOCK, "key": key})
    recent = seen_within_session(session, invoice, [s.id for s in shown], channel=channel, now=now)
    rows = [
        {
            "tenant_id": invoice.tenant_id,
            "kind": IMPRESSION,
            "placement_id": s.id,
            "invoice_id": invoice.id,
            "customer_id": invoice.customer_id,
            "segment_id": s.segment_id,
            "channel": channel,
            "at": now,
        }
        for s in shown
        if s.id not in recent
    ]
    if rows:
        bulk_insert(session, EngagementEvent, rows)
    return len(rows)


def seen_within_session(
    session: Session, invoice: Invoice, placement_ids: list[int], *, channel: str, now: datetime
) -> set[int]:
    """The placements this invoice showed on ``channel`` within :data:`SESSION` before ``now``."""
    if not placement_ids:
        return set()
    return set(
        session.scalars(
            select(EngagementEvent.placement_id).where(
                EngagementEvent.tenant_id == invoice.tenant_id,
                EngagementEvent.invoice_id == invoice.id,
                EngagementEvent.kind == IMPRESSION,
                EngagementEvent.channel == channel,
                EngagementEvent.placement_id.in_(placement_ids),
                EngagementEvent.at > now - SESSION,
            )
        )
    )


def record_sent(
    session: Session, invoices: list[Invoice], shown: dict[int, list[Shown]], *, channel: str, now: datetime
) -> int:
    """The impressions of what was handed over for delivery (email, SMS, PDF/letter): one per
    invoice, placement and channel, ever. What this invoice sent before on the channel (an
    explicit resend, a job run again after a crash, a second letter) is not counted again: the
    unique index ``uq_engagement_events_sent`` drops it. Returns how many were recorded."""
    if channel not in SENT_CHANNELS:
        raise ValueError(f"{channel!r} is not a channel that sends")
    rows = [
        {
            "tenant_id": invoice.tenant_id,
            "kind": IMPRESSION,
            "placement_id": s.id,
            "invoice_id": invoice.id,
            "customer_id": invoice.customer_id,
            "segment_id": s.segment_id,
            "channel": channel,
            "at": now,
        }
        for invoice in invoices
        for s in shown.get(invoice.id, [])
    ]
    if not rows:
        return 0
    table = EngagementEvent.__table__
    assert isinstance(table, Table)
    dialect = postgresql if is_postgresql(session) else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)
    return len(session.execute(statement, rows).all())


def click_token(invoice_token: str, placement_id: int, channel: str) -> str:
    """The token of an offer's click link (``/e/<token>``) on ``channel``:
    ``<invoice token>.<placement id>.<channel letter>``. As unguessable as the web invoice's own
    address; the letter only says where the link was shown (a recipient who edits it moves their
    own click to another channel, nothing more)."""
    return f"{invoice_token}.{placement_id}.{CODE_OF[channel]}"


def parse_click_token(token: str) -> tuple[str, int, str] | None:
    """(invoice token, placement id, channel) of a click link, or None when it is not one. A link
    made before clicks knew their channel (``<invoice token>.<placement id>``) counts as web, as
    such clicks always did."""
    rest, _, code = token.rpartition(".")
    if code in CHANNEL_CODES:
        channel = CHANNEL_CODES[code]
    else:
        rest, code, channel = token, "", WEB
    invoice_token, _, placement = rest.rpartition(".")
    if not invoice_token or not placement.isdigit() or len(placement) > 18:
        return None
    return invoice_token, int(placement), channel


def click(session: Session, invoice: Invoice, placement_id: int, *, channel: str = "web") -> str | None:
    """Record a click on the invoice's offer; returns its stored target, or None (no such offer of
    the invoice's tenant, or a target that is not a safe https address: never an open redirect)."""
    placement = session.scalar(
        select(Placement).where(
            Placement.tenant_id == invoice.tenant_id, Placement.id == placement_id, Placement.kind == "offer"
        )
    )
    if placement is None or not placement.url:
        return None
    try:
        target = safe_url(placement.url)
    except ValueError:
        return None
    session.add(
        EngagementEvent(
            tenant_id=invoice.tenant_id,
            kind=CLICK,
            placement_id=placement.id,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            segment_id=_segment_seen(session, invoice, placement.id),
            channel=channel if channel in (WEB, *SENT_CHANNELS) else WEB,
            at=utcnow(),
        )
    )
    data = {"placement": placement.id, "title": placement.title, "channel": channel}
    record(session, invoice.tenant_id, [Happening(invoice.id, "offer_clicked", "recipient", data)])
    session.flush()
    return target


def _segment_seen(session: Session, invoice: Invoice, placement_id: int) -> int | None:
    """The segment the placement was last shown to this invoice's recipient for."""
    return session.scalar(
        select(EngagementEvent.segment_id)
        .where(
            EngagementEvent.tenant_id == invoice.tenant_id,
            EngagementEvent.invoice_id == invoice.id,
            EngagementEvent.placement_id == placement_id,
            EngagementEvent.kind == IMPRESSION,
        )
        .order_by(EngagementEvent.id.desc())
        .limit(1)
    )


class AnswerRefused(ValueError):
    pass


def answer(session: Session, invoice: Invoice, placement_id: int, form: dict[str, str]) -> bool:
    """Store the recipient's answer to a survey shown on the invoice: True when stored, False when
    this invoice had answered it already; AnswerRefused for an answer the survey does not take."""
    placement = session.scalar(
        select(Placement).where(
            Placement.tenant_id == invoice.tenant_id, Placement.id == placement_id, Placement.kind == "survey"
        )
    )
    if placement is None:
        raise AnswerRefused("no such survey")
    values = parse_answer(Survey.model_validate(placement.survey or {}), form)
    row = SurveyAnswer(
        tenant_id=invoice.tenant_id,
        placement_id=placement.id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        segment_id=_segment_seen(session, invoice, placement.id),
        at=utcnow(),
        **values,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    data = {"placement": placement.id, "rating": values.get("rating"), "choice": values.get("choice")}
    record(session, invoice.tenant_id, [Happening(invoice.id, "survey_answered", "recipient", data)])
    return True


def parse_answer(survey: Survey, form: dict[str, str]) -> dict[str, Any]:
    if survey.type == "rating":
        rating = form.get("rating", "").strip()
        if rating not in ("1", "2", "3", "4", "5"):
            raise AnswerRefused("a rating is 1 to 5")
        return {"rating": int(rating)}
    if survey.type == "choice":
        choice = form.get("choice", "")
        if choice not in survey.choices:
            raise AnswerRefused("pick one of the choices")
        return {"choice": choice}
    text = form.get("text", "").strip()
    if not 0 < len(text) <= 2000:
        raise AnswerRefused("an answer is 1 to 2000 characters")
    return {"text": text}
