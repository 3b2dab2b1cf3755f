"""What the web invoice keeps of its own: when it was opened, and its form key.

Messages are not here: each one is an invoice event (``message_received``/``message_sent``),
so the timeline is the one record of the conversation.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, BigId, UtcDateTime


class WebInvoiceVisit(Base):
    """One row per invoice that has been opened: first and last opened, and the day of the last
    ``opened`` event (one a day at most, so that the timeline is not flooded)."""

    __tablename__ = "web_invoice_visits"

    invoice_id: Mapped[int] = mapped_column(BigId, ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    # A random key per invoice; the forms on the page carry an HMAC made with it (CSRF).
    form_key: Mapped[str] = mapped_column(String(64))
    first_opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_event_on: Mapped[date] = mapped_column(Date)


__all__ = ["WebInvoiceVisit"]
