"""Webhook endpoints and their delivery log in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from kvitt.core.schemas import Input
from kvitt.webhooks import catalogue

MAX_ROTATION_HOURS = 7 * 24
MAX_BATCH_SIZE = 100  # events in one request to an endpoint that takes list bodies
_BATCH_HELP = (
    "events per request: 1 (default) sends each event alone; more sends up to that many in one "
    'signed list body {"object": "list", "data": [event, ...]} (docs/webhooks.md)'
)


def check_url(value: str) -> str:
    """http(s) with a host, nothing else (no file:, ftp:, javascript: ...)."""
    if any(c.isspace() for c in value):
        raise ValueError("a URL cannot contain spaces")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"the URL must start with https:// or http://, not {parts.scheme or 'nothing'}:")
    if not host:
        raise ValueError("the URL has no host")
    return value


class EndpointCreate(Input):
    url: str = Field(max_length=2000, description="https:// (or http://) address Kvitt POSTs events to")
    events: list[str] = Field(min_length=1, max_length=100, description='event types, or ["*"] for all')
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    max_batch_size: int = Field(default=1, ge=1, le=MAX_BATCH_SIZE, description=_BATCH_HELP)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return catalogue.normalise_patterns(value)


class EndpointUpdate(Input):
    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None
    max_batch_size: int | None = Field(default=None, ge=1, le=MAX_BATCH_SIZE, description=_BATCH_HELP)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else catalogue.normalise_patterns(value)


class RotateIn(Input):
    expires_in_hours: int = Field(
        default=24, ge=0, le=MAX_ROTATION_HOURS, description="how long the old secret stays valid (0: not at all)"
    )


class EndpointOut(BaseModel):
    id: int
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    max_batch_size: int
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="the signing secret; shown only in this response")


class AttemptOut(BaseModel):
    number: int
    replay: bool
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None
    at: datetime


class DeliveryOut(BaseModel):
    id: int
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint: int
    event: str
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    log: list[AttemptOut]
    created_at: datetime


class EventTypeOut(BaseModel):
    type: str
    subject: str
    description: str
    aliases: list[str]
