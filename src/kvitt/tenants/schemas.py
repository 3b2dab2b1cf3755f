"""Tenants (issuers) and API keys in the API and the CLI."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from kvitt.core import identity
from kvitt.core.bas import DEFAULTS
from kvitt.core.schemas import Input, Ore
from kvitt.formats.images import hex_colour

_VAT = re.compile(r"^SE\d{10}01$")


class _TenantFields(Input):
    @field_validator("bankgiro", check_fields=False)
    @classmethod
    def _bankgiro(cls, value: str | None) -> str | None:
        return identity.bankgiro_number(value) if value else None

    @field_validator("plusgiro", check_fields=False)
    @classmethod
    def _plusgiro(cls, value: str | None) -> str | None:
        return identity.plusgiro_number(value) if value else None

    @field_validator("vat_number", check_fields=False)
    @classmethod
    def _vat(cls, value: str | None) -> str | None:
        if value and not _VAT.match(value.replace(" ", "")):
            raise ValueError("a Swedish VAT number is SE, the 10-digit organisation number and 01")
        return value.replace(" ", "") if value else None

    @field_validator("swish_number", check_fields=False)
    @classmethod
    def _swish(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"123\d{7}", value.replace(" ", "")):
            raise ValueError("a Swish business number is 10 digits starting with 123")
        return value.replace(" ", "") if value else None

    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return identity.email_address(value) if value else None

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return identity.phone_e164(value) if value else None

    @field_validator("brand_color", check_fields=False)
    @classmethod
    def _brand_color(cls, value: str | None) -> str | None:
        return hex_colour(value) if value else None  # its contrast is the service's rule (branding)

    @field_validator("accounts", check_fields=False)
    @classmethod
    def _accounts(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for role, account in (value or {}).items():
            if role not in DEFAULTS:
                raise ValueError(f"unknown account role {role!r}; known: {', '.join(sorted(DEFAULTS))}")
            if not (account.isdigit() and len(account) == 4):
                raise ValueError(f"{role}: a BAS account is four digits, e.g. 1510")
        return value


class TenantSettings(_TenantFields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    vat_number: str | None = None
    f_skatt: bool | None = None
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=10)
    city: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    bankgiro: str | None = Field(default=None, max_length=12)
    plusgiro: str | None = Field(default=None, max_length=12)
    swish_number: str | None = Field(default=None, max_length=14)
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    invoice_fee: Ore | None = Field(default=None, ge=0)
    reminder_fee: Ore | None = Field(default=None, ge=0)
    reminder_fee_agreed: bool | None = None
    late_interest: bool | None = None
    late_interest_margin_bp: int | None = Field(default=None, ge=0, le=2000)
    round_to_krona: bool | None = None
    ocr_length: int | None = Field(default=None, ge=4, le=25)
    default_delivery: Literal["email", "sms", "letter", "einvoice"] | None = None
    locale: Literal["sv", "en"] | None = None
    accounts: dict[str, str] | None = None
    brand_color: str | None = Field(default=None, description="#rrggbb; white text on it must reach 4.5:1")


class TenantCreate(TenantSettings):
    name: str = Field(min_length=1, max_length=200)
    org_number: str
    is_test: bool = False

    @field_validator("org_number")
    @classmethod
    def _org(cls, value: str) -> str:
        return identity.organisation_number(value)

    @model_validator(mode="after")
    def _needs_a_way_to_pay(self) -> TenantCreate:
        if not (self.bankgiro or self.plusgiro):
            raise ValueError("a tenant needs a bankgiro or a plusgiro number to be paid to")
        return self


class TenantOut(BaseModel):
    id: int
    object: Literal["tenant"] = "tenant"
    name: str
    org_number: str
    vat_number: str | None
    f_skatt: bool
    address_line1: str | None
    address_line2: str | None
    postal_code: str | None
    city: str | None
    email: str | None
    phone: str | None
    bankgiro: str | None
    plusgiro: str | None
    swish_number: str | None
    payment_terms_days: int
    invoice_fee: int
    reminder_fee: int
    reminder_fee_agreed: bool
    late_interest: bool
    late_interest_margin_bp: int
    round_to_krona: bool
    ocr_length: int | None
    default_delivery: str
    locale: str
    currency: str
    accounts: dict[str, Any]
    brand_color: str | None = None
    logo_sha256: str | None = None
    is_test: bool
    created_at: datetime

    model_config = {"from_attributes": True}


class ApiKeyCreate(Input):
    name: str = Field(default="default", min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: int
    object: Literal["api_key"] = "api_key"
    name: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    secret: str | None = None  # only in the response that creates the key

    model_config = {"from_attributes": True}
