"""Customers in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from kvitt.core import identity
from kvitt.core.schemas import Input

CustomerType = Literal["individual", "company"]
DeliveryMethod = Literal["email", "sms", "letter", "einvoice"]
Language = Literal["sv", "en"]


class _ContactFields(Input):
    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return identity.email_address(value) if value else None

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return identity.phone_e164(value) if value else None


class CustomerCreate(_ContactFields):
    customer_no: str
    type: CustomerType = "individual"
    id_number: str | None = None
    name: str
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str = "SE"
    delivery_method: DeliveryMethod | None = None
    language: Language = "sv"
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("customer_no", "name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        # ``type`` is declared before ``id_number``, so it is in info.data when it was valid.
        return identity.customer_id_number(value, info.data.get("type", "individual")) if value else None


class CustomerUpdate(_ContactFields):
    name: str | None = None
    id_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    delivery_method: DeliveryMethod | None = None
    language: Language | None = None
    attributes: dict[str, Any] | None = None


class CustomerOut(BaseModel):
    id: int
    object: Literal["customer"] = "customer"
    customer_no: str
    type: CustomerType
    id_number: str | None
    name: str
    email: str | None
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    postal_code: str | None
    city: str | None
    country: str
    delivery_method: DeliveryMethod
    language: Language
    attributes: dict[str, Any]
    balance: int | None = None
    created_at: datetime
    updated_at: datetime

    model_config = {"from_attributes": True}
