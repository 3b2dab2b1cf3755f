"""Imported billing files and the invoice refs they created (the dedupe key across files)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class BillingFile(Base):
    """One billing file a tenant sent; its content hash makes a second import of it a no-op."""

    __tablename__ = "billing_files"
    __table_args__ = (UniqueConstraint("tenant_id", "content_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    format: Mapped[str] = mapped_column(String(10))  # csv | jsonl
    mapping: Mapped[str] = mapped_column(String(100))  # canonical, jsonl or the mapping's name
    source: Mapped[str] = mapped_column(String(10))  # api | cli | inbox
    issue: Mapped[bool] = mapped_column(default=True)  # issued at once, or left as drafts
    # imported | rejected (failed its checks; nothing of it applied)
    state: Mapped[str] = mapped_column(String(10), default="imported")
    rows: Mapped[int] = mapped_column(Integer, default=0)  # invoice lines read
    invoices: Mapped[int] = mapped_column(Integer, default=0)  # invoices created
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # invoice refs imported before
    customers_created: Mapped[int] = mapped_column(Integer, default=0)
    customers_updated: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)  # öre, of the invoices created
    # Up to ERROR_LIMIT {line, field, message}; and the refs skipped (first SKIPPED_LIMIT).
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    skipped_refs: Mapped[list[str]] = mapped_column(JsonType, default=list)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class InvoiceRef(Base):
    """The issuer's reference of an invoice it sent in a file: a ref is invoiced once per tenant,
    whatever file it comes in again (enforced here by the unique key, not only by code)."""

    __tablename__ = "billing_file_invoice_refs"
    __table_args__ = (UniqueConstraint("tenant_id", "invoice_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    invoice_ref: Mapped[str] = mapped_column(String(100))
    file_id: Mapped[int] = mapped_column(ForeignKey("billing_files.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
