"""API shapes of delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kvitt.core.schemas import Input

Channel = Literal["email", "sms", "letter", "einvoice"]


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Channel | None = Field(None, description="the channel; empty: the customer's preference and fallback")


class DeliveryOut(BaseModel):
    id: int
    object: Literal["delivery"] = "delivery"
    invoice: int
    document: str
    reminder: int | None
    chain: int
    channel: Channel
    first_channel: Channel
    reason: str
    state: str
    recipient: str | None
    provider_ref: str | None
    batch: str | None
    error: str | None
    actor: str
    created_at: datetime
    sent_at: datetime | None


class DeliverySettingsOut(BaseModel):
    object: Literal["delivery_settings"] = "delivery_settings"
    fallback: dict[Channel, list[Channel]]
    attach_pdf: bool


class DeliverySettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fallback: dict[Channel, list[Channel]] | None = Field(
        None, description="channel → channels to try in order when it fails; channels not named keep theirs"
    )
    attach_pdf: bool | None = None


class BounceIn(Input):  # Input refuses NUL characters (PostgreSQL text cannot hold them)
    message_id: str | None = Field(None, max_length=200, description="the bounced email's Message-ID")
    invoice: int | None = Field(None, ge=1, le=2**63 - 1, description="or the invoice (its latest email)")
    reason: str = Field("bounced", max_length=500)
