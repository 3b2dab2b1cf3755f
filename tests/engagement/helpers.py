"""What the engagement tests set up through the API, written once: the segment "Medium", an
offer and other placements for it, and counting the engagement events recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kvitt.core.db import Database
from kvitt.engagement.models import EngagementEvent
from tests.conftest import Api
from tests.segments.isolation_cases import _created

OFFER_URL = "https://operator.example/uppgradera"
UPGRADE = "Uppgradera till Global Plus"


def medium_segment(api: Api) -> dict[str, Any]:
    """The customers whose attribute ``plan`` is "Medium"."""
    rule = {"name": "Medium", "conditions": [{"field": "attributes.plan", "op": "eq", "value": "Medium"}]}
    return _created(api.post("/segments", rule))


def placement(api: Api, kind: str, title: str, segment: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A placement through the API, for ``segment`` (None: everyone)."""
    body = {"kind": kind, "title": title, **({"segments": [segment["id"]]} if segment else {}), **fields}
    return _created(api.post("/placements", body))


def upgrade_offer(api: Api, segment: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    """The offer "Uppgradera till Global Plus" (call to action "Uppgradera nu" unless given)."""
    return placement(api, "offer", UPGRADE, segment, **{"url": OFFER_URL, "cta": "Uppgradera nu", **fields})


def count_events(db: Database, **where: Any) -> int:
    """How many engagement events (impressions, clicks) have these column values."""
    with db.read() as session:
        query = select(func.count(EngagementEvent.id)).where(
            *(getattr(EngagementEvent, key) == value for key, value in where.items())
        )
        return int(session.scalar(query) or 0)
