"""Dunning in the API: policies with their segment rules and steps, reminders, pauses, extensions, plans."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from kvitt.core.schemas import Id, Input, Ore

CUSTOMER_FIELDS = ("type", "delivery_method", "language", "country", "city", "postal_code", "customer_no")
RULE_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte")
Channel = Literal["email", "sms", "letter", "einvoice"]


class Rule(Input):
    """A condition on the customer: a field, ``attributes.<key>``, ``age_years`` (years as a customer)
    or ``segment`` (the id of one of the tenant's segments, ``/api/v1/segments``)."""

    field: str = Field(max_length=80, pattern=r"^(attributes\.[A-Za-z0-9_\-]{1,60}|[a-z_]{1,40})$")
    op: Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"] = "eq"
    value: str | int | bool | list[str | int] = Field()

    @model_validator(mode="after")
    def _known(self) -> Rule:
        if self.field == "segment":
            values = self.value if isinstance(self.value, list) else [self.value]
            if self.op not in ("eq", "ne", "in", "not_in") or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63 for v in values
            ):
                raise ValueError("segment names segment ids: eq/ne one id, in/not_in a list of ids")
            if (self.op in ("in", "not_in")) != isinstance(self.value, list):
                raise ValueError(f"op {self.op!r} takes {'a list' if self.op in ('in', 'not_in') else 'one id'}")
            return self
        if self.field not in CUSTOMER_FIELDS and self.field != "age_years" and not self.field.startswith("attributes."):
            allowed = ", ".join((*CUSTOMER_FIELDS, "age_years", "attributes.<key>"))
            raise ValueError(f"unknown field {self.field!r}; one of {allowed}")
        if (self.op in ("in", "not_in")) != isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} takes {'a list' if self.op in ('in', 'not_in') else 'one value'}")
        if isinstance(self.value, list) and len({type(item) for item in self.value}) > 1:
            raise ValueError("a list compares with values of one kind: all text or all whole numbers")
        if self.field == "age_years" and (isinstance(self.value, bool) or not isinstance(self.value, int)):
            raise ValueError("age_years compares with a whole number of years")
        values = self.value if isinstance(self.value, list) else [self.value]
        # The database compares these, and PostgreSQL has no text > integer (a 500 found by fuzzing).
        if self.field in CUSTOMER_FIELDS and not all(isinstance(item, str) for item in values):
            raise ValueError(f"{self.field} is text: compare it with text")
        if self.op in ("gt", "gte", "lt", "lte") and (isinstance(self.value, bool) or not isinstance(self.value, int)):
            raise ValueError(f"op {self.op!r} compares with a whole number")
        return self


class Step(Input):
    days: int = Field(ge=0, le=365, description="days after the due date, or after the previous step")
    after: Literal["due", "previous"] = "previous"
    action: Literal["reminder", "collection"] = "reminder"
    channel: Channel | None = None  # None: the customer's own preference
    fee: Ore | None = Field(default=None, ge=0)  # None: the tenant's reminder_fee (reminders only)
    interest: bool | None = None  # None: the tenant's late_interest setting
    due_days: int = Field(default=10, ge=1, le=60, description="the reminder's new due date, days after sending")


def collection_last(steps: list[Step]) -> list[Step]:
    for index, step in enumerate(steps[:-1]):
        if step.action == "collection":
            raise ValueError(f"steps[{index}]: the hand-over to collection must be the last step")
    return steps


class PolicyCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    priority: int = Field(default=100, ge=0, le=1_000_000)
    rules: list[Rule] = Field(default_factory=list, max_length=20)
    steps: list[Step] = Field(min_length=1, max_length=10)
    active: bool = True

    @field_validator("steps")
    @classmethod
    def _collection_last(cls, steps: list[Step]) -> list[Step]:
        return collection_last(steps)


class PolicyUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    rules: list[Rule] | None = Field(default=None, max_length=20)
    steps: list[Step] | None = Field(default=None, min_length=1, max_length=10)
    active: bool | None = None

    @field_validator("steps")
    @classmethod
    def _collection_last(cls, steps: list[Step] | None) -> list[Step] | None:
        return collection_last(steps) if steps is not None else None


class PolicyOut(BaseModel):
    object: Literal["dunning_policy"] = "dunning_policy"
    id: int
    name: str
    priority: int
    rules: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    active: bool
    is_default: bool
    created_at: datetime
    updated_at: datetime


class ReminderOut(BaseModel):
    object: Literal["reminder"] = "reminder"
    id: int
    invoice: int
    customer: int
    policy: int | None
    level: int
    action: str
    number: str
    sent_on: date
    due_date: date
    principal: int
    fee: int
    fee_kind: str | None
    interest: int
    interest_from: date | None
    interest_to: date | None
    interest_rates_bp: list[int]
    charge_invoice: int | None
    channel: str | None
    total_due: int  # principal + fee + interest, what the reminder asks for


class PauseCreate(Input):
    invoice: Id | None = None
    customer: Id | None = None
    reason: str = Field(min_length=1, max_length=500)
    until: date | None = None

    @model_validator(mode="after")
    def _one_target(self) -> PauseCreate:
        if (self.invoice is None) == (self.customer is None):
            raise ValueError("name either an invoice or a customer")
        return self


class PauseOut(BaseModel):
    object: Literal["dunning_pause"] = "dunning_pause"
    id: int
    invoice: int | None
    customer: int | None
    reason: str
    until: date | None
    actor: str
    active: bool
    created_at: datetime
    ended_at: datetime | None


class ExtensionCreate(Input):
    invoice: Id
    until: date
    reason: str | None = Field(default=None, max_length=500)


class ExtensionDecision(Input):
    reason: str | None = Field(default=None, max_length=500)


class ExtensionOut(BaseModel):
    object: Literal["payment_extension"] = "payment_extension"
    id: int
    invoice: int
    until: date
    reason: str | None
    state: str
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class PlanCreate(Input):
    invoice: Id
    parts: int = Field(ge=2, le=36)
    first_due_date: date
    interval_days: int = Field(default=30, ge=7, le=92)
    fee: Ore = Field(default=0, ge=0)


class PlanOut(BaseModel):
    object: Literal["instalment_plan"] = "instalment_plan"
    id: int
    invoice: int
    amount: int
    fee: int
    charge_invoice: int | None
    parts: list[dict[str, Any]]
    state: str
    created_at: datetime
    ended_on: date | None


class SettingsUpdate(Input):
    extension_auto_days: int | None = Field(default=None, ge=0, le=365)
    extension_max_days: int | None = Field(default=None, ge=0, le=365)
    agency_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://[^\s]+$")
    agency_api_key: str | None = Field(default=None, max_length=200)


class SettingsOut(BaseModel):
    object: Literal["dunning_settings"] = "dunning_settings"
    extension_auto_days: int
    extension_max_days: int
    agency_url: str | None
    agency_api_key_set: bool


class CaseOut(BaseModel):
    object: Literal["collection_case"] = "collection_case"
    id: int
    invoice: int
    customer: int
    reminder: int
    handed_over_on: date
    principal: int
    charges: int
    fee_kind: str | None
    fee: int
    state: str
    external_id: str | None
    collected: int
    closed_reason: str | None
    closed_on: date | None


class RateOut(BaseModel):
    object: Literal["reference_rate"] = "reference_rate"
    valid_from: date
    rate_bp: int
    late_interest_bp: int  # the reference rate + 8 percentage points (Räntelagen 6 §)
    source: str


class RunIn(Input):
    date: date


class RunOut(BaseModel):
    object: Literal["dunning_run"] = "dunning_run"
    date: date
    reminders: int
    collections: int
    fees: int
    interest: int
    charge_invoices: int
    plans_broken: int
