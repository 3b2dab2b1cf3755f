"""Event-chain rules and their firings in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kvitt.automation import conditions
from kvitt.core.schemas import Id, Input
from kvitt.webhooks import catalogue

Channel = Literal["email", "sms", "letter", "einvoice"]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[\w.-]+$")]


class ConditionIn(Input):
    field: str = Field(max_length=200, description="e.g. customer.type, invoice.remaining, event.channel")
    op: str = Field(description=", ".join(conditions.OPERATORS))
    value: Any = None

    @model_validator(mode="after")
    def _check(self) -> ConditionIn:
        conditions.check(self.model_dump())
        return self


class ActionInput(BaseModel):
    """Like core's Input, with the NUL check after validation: a discriminated union
    (actions by ``type``) cannot have a before-validator on its tag field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _no_nul_characters(self) -> ActionInput:
        for name, value in self:
            if isinstance(value, str) and "\x00" in value:
                raise ValueError(f"{name}: text must not contain NUL characters")
        return self


class SendAction(ActionInput):
    """Send (or send again) the invoice by a channel; none: the customer's preference."""

    type: Literal["send"]
    channel: Channel | None = None


class MessageAction(ActionInput):
    """Write on the web invoice's conversation, as the system."""

    type: Literal["message"]
    text: str = Field(min_length=1, max_length=2000, description="{{ invoice.number }}-style placeholders allowed")


class TagAction(ActionInput):
    type: Literal["add_tag", "remove_tag"]
    tag: Tag


class PauseDunningAction(ActionInput):
    type: Literal["pause_dunning"]
    scope: Literal["invoice", "customer"] = "invoice"
    days: int | None = Field(default=None, ge=1, le=365, description="none: until resumed by hand")
    reason: str = Field(default="automation", min_length=1, max_length=200)


class NotifyStaffAction(ActionInput):
    type: Literal["notify_staff"]
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=5000)


class WebhookAction(ActionInput):
    """POST the triggering event to one of the tenant's webhook endpoints (signed, retried)."""

    type: Literal["webhook"]
    endpoint: Id


Action = Annotated[
    SendAction | MessageAction | TagAction | PauseDunningAction | NotifyStaffAction | WebhookAction,
    Field(discriminator="type"),
]
ACTION_TYPES = ("send", "message", "add_tag", "remove_tag", "pause_dunning", "notify_staff", "webhook")


class Wait(Input):
    """Run the actions this long after the event, and only if the conditions still hold then."""

    days: int = Field(default=0, ge=0, le=365)
    hours: int = Field(default=0, ge=0, le=23)
    minutes: int = Field(default=0, ge=0, le=59)

    def total_minutes(self) -> int:
        return (self.days * 24 + self.hours) * 60 + self.minutes


def check_trigger(value: str) -> str:
    name = catalogue.canonical(value)
    if name is None:
        raise ValueError(f"unknown event type {value!r}; see GET /api/v1/event-types for the catalogue")
    return name


class RuleCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    trigger: str = Field(max_length=60, description="an event type from GET /api/v1/event-types")
    conditions: list[ConditionIn] = Field(default_factory=list, max_length=20)
    actions: list[Action] = Field(min_length=1, max_length=10)
    wait: Wait | None = None
    enabled: bool = True

    @field_validator("trigger")
    @classmethod
    def _trigger(cls, value: str) -> str:
        return check_trigger(value)


class RuleUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    trigger: str | None = Field(default=None, max_length=60)
    conditions: list[ConditionIn] | None = Field(default=None, max_length=20)
    actions: list[Action] | None = Field(default=None, min_length=1, max_length=10)
    wait: Wait | None = None
    enabled: bool | None = None

    @field_validator("trigger")
    @classmethod
    def _trigger(cls, value: str | None) -> str | None:
        return None if value is None else check_trigger(value)


class TemplateInstall(Input):
    template: str = Field(max_length=60)
    enabled: bool = Field(default=False, description="templates are installed switched off unless asked")


class RuleOut(BaseModel):
    id: int
    object: Literal["automation_rule"] = "automation_rule"
    name: str
    description: str | None
    trigger: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    wait: dict[str, int] | None
    enabled: bool
    template: str | None
    created_at: datetime
    updated_at: datetime


class FiringOut(BaseModel):
    id: int
    object: Literal["automation_firing"] = "automation_firing"
    rule: int
    event_type: str
    invoice: int | None
    customer: int | None
    state: str
    run_at: datetime
    results: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class TemplateOut(BaseModel):
    name: str
    description: str
    rule: dict[str, Any]
    installed: int | None
