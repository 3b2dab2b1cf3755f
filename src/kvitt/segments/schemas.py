"""Segments in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kvitt.core.schemas import Input


class Condition(Input):
    field: str = Field(max_length=80, examples=["attributes.plan"])
    op: str = Field(default="eq", max_length=20, examples=["eq"])
    value: Any = Field(default=None, examples=["Medium"])


class SegmentCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=20)


class SegmentUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    match: Literal["all", "any"] | None = None
    conditions: list[Condition] | None = Field(default=None, max_length=20)


class SegmentExample(BaseModel):
    id: int
    customer_no: str
    name: str


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    object: Literal["segment"] = "segment"
    name: str
    match: str
    conditions: list[dict[str, Any]]
    customer_count: int
    counted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PreviewIn(Input):
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=20)


class PreviewOut(BaseModel):
    object: Literal["segment_preview"] = "segment_preview"
    count: int
    examples: list[SegmentExample]
    text: str
