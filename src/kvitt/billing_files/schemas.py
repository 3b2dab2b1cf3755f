"""Billing files in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class BillingFileOut(BaseModel):
    id: int
    object: Literal["billing_file"] = "billing_file"
    filename: str | None
    content_hash: str
    size: int
    format: str
    mapping: str
    source: str
    issue: bool
    state: Literal["imported", "rejected"]
    rows: int
    invoices: int
    skipped: int
    skipped_refs: list[str]
    customers_created: int
    customers_updated: int
    total: int
    errors: list[dict[str, Any]]
    imported_at: datetime
    already_imported: bool = False

    model_config = {"from_attributes": True}
