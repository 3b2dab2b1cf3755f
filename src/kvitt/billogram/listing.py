"""Billogram's list parameters over a tenant-scoped select: ``page``/``page_size``,
``filter_type`` (field, field-prefix, field-search, special), ``filter_field``, ``filter_value``,
``order_field``, ``order_direction``; the answer's ``meta.total_count``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import Session

from kvitt.billogram.errors import INVALID_QUERY_PARAMETER, MISSING_QUERY_PARAMETER, BillogramError

MAX_PAGE_SIZE = 100
FILTER_TYPES = ("field", "field-prefix", "field-search", "special")


@dataclass(frozen=True)
class Field:
    column: Any
    kind: str = "text"  # text | int | date


@dataclass(frozen=True)
class Spec:
    fields: dict[str, Field]
    search: list[Any]  # text columns of ``special``/``search``
    id_column: Any
    special: dict[str, Callable[[str], ColumnElement[bool]]] = field(default_factory=dict)
    # A field whose ``field`` filter takes a comma-separated list (billogram ``state``).
    any_of: dict[str, Callable[[list[str]], ColumnElement[bool]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ListQuery:
    page: int
    page_size: int
    filter_type: str | None
    filter_field: str | None
    filter_value: str | None
    order_field: str | None
    order_direction: str


def _query_error(message: str, name: str, status: str = INVALID_QUERY_PARAMETER) -> BillogramError:
    return BillogramError(status, message, field=name)


def _whole(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise _query_error(f"{name} must be a whole number from {low} to {high}", name)
    return int(value)


def list_query(
    page: Annotated[str | None, Query()] = None,
    page_size: Annotated[str | None, Query()] = None,
    filter_type: Annotated[str | None, Query()] = None,
    filter_field: Annotated[str | None, Query()] = None,
    filter_value: Annotated[str | None, Query()] = None,
    order_field: Annotated[str | None, Query()] = None,
    order_direction: Annotated[str | None, Query()] = None,
) -> ListQuery:
    given = {"filter_type": filter_type, "filter_field": filter_field, "filter_value": filter_value}
    if any(v is not None for v in given.values()):
        for name, value in given.items():
            if value is None:
                raise _query_error(f"{name} is needed with a filter", name, MISSING_QUERY_PARAMETER)
        if filter_type not in FILTER_TYPES:
            raise _query_error(f"filter_type must be one of {', '.join(FILTER_TYPES)}", "filter_type")
    if order_direction not in (None, "asc", "desc"):
        raise _query_error("order_direction must be asc or desc", "order_direction")
    return ListQuery(
        page=_whole(page, "page", 1, 1, 10**9),
        page_size=_whole(page_size, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        filter_type=filter_type,
        filter_field=filter_field,
        filter_value=filter_value,
        order_field=order_field,
        order_direction=order_direction or "asc",
    )


def run(session: Session, query: Select[Any], spec: Spec, params: ListQuery) -> tuple[list[Any], int]:
    """The page's rows and the count of all rows that match."""
    query = query.where(_filter(spec, params))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    order = spec.id_column
    if params.order_field:
        found = spec.fields.get(params.order_field)
        if found is None:
            raise _query_error(f"cannot order by {params.order_field}", "order_field")
        order = found.column
    ordering = [order.desc(), spec.id_column.desc()] if params.order_direction == "desc" else [order, spec.id_column]
    rows = session.scalars(
        query.order_by(*ordering).offset((params.page - 1) * params.page_size).limit(params.page_size)
    )
    return list(rows.unique()), int(total)


def _filter(spec: Spec, params: ListQuery) -> ColumnElement[bool]:
    kind, name, value = params.filter_type, params.filter_field or "", params.filter_value or ""
    if kind is None:
        return true_clause(spec)
    if kind == "special":
        if name == "search":
            return or_(*(column.icontains(value, autoescape=True) for column in spec.search))
        special = spec.special.get(name)
        if special is None:
            raise _query_error(f"no special filter {name}", "filter_field")
        return special(value)
    if kind == "field" and name in spec.any_of:
        return spec.any_of[name]([part.strip() for part in value.split(",") if part.strip()])
    found = spec.fields.get(name)
    if found is None:
        raise _query_error(f"cannot filter on {name}", "filter_field")
    return _field_clause(kind, found, value)


def true_clause(spec: Spec) -> ColumnElement[bool]:
    return spec.id_column.is_not(None)  # type: ignore[no-any-return]


def _field_clause(kind: str, found: Field, value: str) -> ColumnElement[bool]:
    column = found.column
    if found.kind == "int":
        if kind != "field":
            raise _query_error("a number field takes filter_type field", "filter_type")
        return column == int(value) if value.isdigit() else false()  # type: ignore[no-any-return,unused-ignore]
    if found.kind == "date":
        if kind != "field":
            raise _query_error("a date field takes filter_type field", "filter_type")
        try:
            return column == date.fromisoformat(value)  # type: ignore[no-any-return]
        except ValueError:
            raise _query_error(f"{value!r} is not a date (YYYY-MM-DD)", "filter_value") from None
    if kind == "field":
        return column == value  # type: ignore[no-any-return]
    if kind == "field-prefix":
        return column.startswith(value, autoescape=True)  # type: ignore[no-any-return]
    return column.icontains(value, autoescape=True)  # type: ignore[no-any-return]
