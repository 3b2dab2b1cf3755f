"""Cursor pagination, newest first, as Stripe does it: ``limit`` and ``starting_after``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass
class Page(Generic[T]):
    items: list[T]
    has_more: bool


def paginate(
    session: Session,
    query: Select[Any],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    starting_after: int | None,
    equal: Mapping[InstrumentedAttribute[Any], object] | None = None,
) -> Page[Any]:
    """``limit`` rows of ``query`` before ``starting_after``, newest first; ``equal`` holds a list
    endpoint's optional filters (column: the value asked for, None when the filter was not given)."""
    for column, value in (equal or {}).items():
        if value is not None:
            query = query.where(column == value)
    if starting_after is not None:
        query = query.where(id_column < starting_after)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    return Page(rows[:limit], len(rows) > limit)
