"""Placements and the engagement report in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from kvitt.core.schemas import Id, Input

Kind = Literal["offer", "info", "survey"]
Channel = Literal["web", "email", "pdf", "sms"]
MAX_URL = 2000


def safe_url(value: str | None) -> str | None:
    """An https address with a host and nothing that could run (no javascript:, data:, spaces)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("must be an https:// address (no javascript:, data: or http:)")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    return value


class Survey(Input):
    type: Literal["rating", "choice", "text"] = "rating"
    choices: list[str] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _choices(self) -> Survey:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError("a choice survey has 2 to 10 choices")
        if self.type != "choice" and self.choices:
            raise ValueError("only a choice survey has choices")
        if any(not c or len(c) > 200 for c in self.choices):
            raise ValueError("a choice is 1 to 200 characters")
        return self


class PlacementFields(Input):
    title_en: str | None = Field(default=None, max_length=200)
    text_en: str | None = Field(default=None, max_length=4000)
    url: str | None = Field(default=None, max_length=MAX_URL, description="an offer's target (https)")
    image_url: str | None = Field(default=None, max_length=MAX_URL)
    cta: str | None = Field(default=None, max_length=80, description="the call to action's label")
    cta_en: str | None = Field(default=None, max_length=80)
    survey: Survey | None = None
    segments: list[Id] = Field(default_factory=list, max_length=20, description="[] = every customer")
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](("web",)), max_length=4)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    priority: int = Field(default=100, ge=0, le=1_000_000)
    cap_per_customer: int | None = Field(default=None, ge=1, le=10_000, description="impressions per customer")
    active: bool = True

    _urls = field_validator("url", "image_url")(classmethod(lambda cls, v: safe_url(v)))


class PlacementCreate(PlacementFields):
    kind: Kind
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _by_kind(self) -> PlacementCreate:
        check_kind(self.kind, self.url, self.survey)
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def check_kind(kind: str, url: str | None, survey: Any) -> None:
    if kind == "offer" and not url:
        raise ValueError("an offer needs a url (its call to action's target)")
    if kind != "offer" and url:
        raise ValueError("only an offer has a url")
    if kind != "survey" and survey:
        raise ValueError("only a survey has a survey")


class PlacementUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    text: str | None = Field(default=None, max_length=4000)
    title_en: str | None = Field(default=None, max_length=200)
    text_en: str | None = Field(default=None, max_length=4000)
    url: str | None = Field(default=None, max_length=MAX_URL)
    image_url: str | None = Field(default=None, max_length=MAX_URL)
    cta: str | None = Field(default=None, max_length=80)
    cta_en: str | None = Field(default=None, max_length=80)
    survey: Survey | None = None
    segments: list[Id] | None = Field(default=None, max_length=20)
    channels: list[Channel] | None = Field(default=None, max_length=4)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    cap_per_customer: int | None = Field(default=None, ge=1, le=10_000)
    active: bool | None = None

    _urls = field_validator("url", "image_url")(classmethod(lambda cls, v: safe_url(v)))


class PlacementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    object: Literal["placement"] = "placement"
    kind: str
    title: str
    text: str
    title_en: str | None
    text_en: str | None
    url: str | None
    image_url: str | None
    cta: str | None
    cta_en: str | None
    survey: dict[str, Any]
    segments: list[int]
    channels: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    priority: int
    cap_per_customer: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


class ChannelCounts(BaseModel):
    impressions: int
    clicks: int
    ctr: str = Field(description="clicks / impressions on the channel, 4 decimal places")


class ReportRow(BaseModel):
    placement: int
    title: str
    kind: str
    segment: int | None
    impressions: int
    unique_viewers: int
    clicks: int
    ctr: str = Field(description="clicks / impressions as a decimal string with 4 places, e.g. 0.0550")
    answers: int
    ratings: dict[str, int] = Field(default_factory=dict, description="survey ratings 1-5: how many each")
    share_4_or_more: str | None = Field(default=None, description="share of ratings >= 4, e.g. 0.7300")
    choices: dict[str, int] = Field(default_factory=dict)
    channels: dict[str, ChannelCounts] = Field(
        default_factory=dict,
        description="impressions, clicks and CTR per channel the placement was shown or clicked on "
        "(web, email, pdf, sms)",
    )


class Report(BaseModel):
    object: Literal["engagement_report"] = "engagement_report"
    date_from: str = Field(serialization_alias="from")
    date_to: str = Field(serialization_alias="to")
    data: list[ReportRow]
