"""Customers in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

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


Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. SE")]
Address = Annotated[str, Field(max_length=200)]
PostalCode = Annotated[str, Field(max_length=10)]
City = Annotated[str, Field(max_length=100)]


class CustomerCreate(_ContactFields):
    customer_no: str = Field(max_length=40)
    type: CustomerType = "individual"
    id_number: str | None = Field(default=None, max_length=20)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    address_line1: Address | None = None
    address_line2: Address | None = None
    postal_code: PostalCode | None = None
    city: City | None = None
    country: Country = "SE"
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
    name: str | None = Field(default=None, min_length=1, max_length=200)
    id_number: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    address_line1: Address | None = None
    address_line2: Address | None = None
    postal_code: PostalCode | None = None
    city: City | None = None
    country: Country | None = None
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
