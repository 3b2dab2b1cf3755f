"""The engagement report: per placement and segment, impressions, unique viewers, clicks, CTR and
survey answers with their distribution, summed in SQL over a period of Swedish days."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from kvitt.core.clock import STOCKHOLM
from kvitt.engagement.models import EngagementEvent, Placement, SurveyAnswer
from kvitt.engagement.schemas import ChannelCounts, ReportRow
from kvitt.tenants.models import Tenant

FOUR = Decimal("0.0001")


def ratio(part: int, whole: int) -> str:
    """An exact fraction written with 4 decimals, half up (0 when there is nothing to divide)."""
    if not whole:
        return "0.0000"
    value = Fraction(part, whole)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(FOUR, ROUND_HALF_UP))


def rows(session: Session, tenant: Tenant, date_from: date, date_to: date) -> list[ReportRow]:
    start = datetime.combine(date_from, time(0), tzinfo=STOCKHOLM)
    end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=STOCKHOLM)
    counts: dict[tuple[int, int | None], dict[str, Any]] = defaultdict(
        lambda: {"impression": 0, "viewers": 0, "click": 0, "answers": 0, "ratings": {}, "choices": {}, "channels": {}}
    )
    in_period = (EngagementEvent.tenant_id == tenant.id, EngagementEvent.at >= start, EngagementEvent.at < end)
    events = (
        select(
            EngagementEvent.placement_id,
            EngagementEvent.segment_id,
            EngagementEvent.kind,
            func.count(EngagementEvent.id),
            func.count(distinct(EngagementEvent.customer_id)),
        )
        .where(*in_period)
        .group_by(EngagementEvent.placement_id, EngagementEvent.segment_id, EngagementEvent.kind)
    )
    for placement_id, segment_id, kind, count, viewers in session.execute(events):
        row = counts[(placement_id, segment_id)]
        row[kind] = count
        if kind == "impression":
            row["viewers"] = viewers
    per_channel = (
        select(
            EngagementEvent.placement_id,
            EngagementEvent.segment_id,
            EngagementEvent.channel,
            EngagementEvent.kind,
            func.count(EngagementEvent.id),
        )
        .where(*in_period)
        .group_by(
            EngagementEvent.placement_id, EngagementEvent.segment_id, EngagementEvent.channel, EngagementEvent.kind
        )
    )
    for placement_id, segment_id, channel, kind, count in session.execute(per_channel):
        channels = counts[(placement_id, segment_id)]["channels"]
        channels.setdefault(channel, {"impression": 0, "click": 0})[kind] = count
    answers = (
        select(
            SurveyAnswer.placement_id,
            SurveyAnswer.segment_id,
            SurveyAnswer.rating,
            SurveyAnswer.choice,
            func.count(SurveyAnswer.id),
        )
        .where(SurveyAnswer.tenant_id == tenant.id, SurveyAnswer.at >= start, SurveyAnswer.at < end)
        .group_by(SurveyAnswer.placement_id, SurveyAnswer.segment_id, SurveyAnswer.rating, SurveyAnswer.choice)
    )
    for placement_id, segment_id, rating, choice, count in session.execute(answers):
        row = counts[(placement_id, segment_id)]
        row["answers"] += count
        if rating is not None:
            row["ratings"][str(rating)] = row["ratings"].get(str(rating), 0) + count
        if choice is not None:
            row["choices"][choice] = row["choices"].get(choice, 0) + count
    return _rows(session, tenant, counts)


def _rows(session: Session, tenant: Tenant, counts: dict[tuple[int, int | None], dict[str, Any]]) -> list[ReportRow]:
    ids = {placement_id for placement_id, _ in counts}
    placements = {
        p.id: p
        for p in session.scalars(select(Placement).where(Placement.tenant_id == tenant.id, Placement.id.in_(ids)))
    }
    out = []
    for (placement_id, segment_id), c in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        placement = placements.get(placement_id)
        rated = sum(c["ratings"].values())
        high = sum(n for rating, n in c["ratings"].items() if int(rating) >= 4)
        out.append(
            ReportRow(
                placement=placement_id,
                title=placement.title if placement else "(deleted)",
                kind=placement.kind if placement else "",
                segment=segment_id,
                impressions=c["impression"],
                unique_viewers=c["viewers"],
                clicks=c["click"],
                ctr=ratio(c["click"], c["impression"]),
                answers=c["answers"],
                ratings=dict(sorted(c["ratings"].items())),
                share_4_or_more=ratio(high, rated) if rated else None,
                choices=c["choices"],
                channels={
                    channel: ChannelCounts(
                        impressions=n["impression"], clicks=n["click"], ctr=ratio(n["click"], n["impression"])
                    )
                    for channel, n in sorted(c["channels"].items())
                },
            )
        )
    return out


CHANNELS = ("web", "email", "pdf", "sms")


def csv_text(report: list[ReportRow]) -> str:
    """The report's rows; after the totals, impressions, clicks and CTR on each channel."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["placement", "title", "kind", "segment", "impressions", "unique_viewers", "clicks", "ctr", "answers"]
    per_channel = [f"{what}_{channel}" for channel in CHANNELS for what in ("impressions", "clicks", "ctr")]
    writer.writerow([*header, "share_4_or_more", *per_channel])
    empty = ChannelCounts(impressions=0, clicks=0, ctr=ratio(0, 0))
    for row in report:
        values = [getattr(row, name) for name in header]
        split = [row.channels.get(channel, empty) for channel in CHANNELS]
        counts = [value for c in split for value in (c.impressions, c.clicks, c.ctr)]
        writer.writerow([*("" if v is None else v for v in values), row.share_4_or_more or "", *counts])
    return out.getvalue()
