"""A test tenant's business date, moved forward by the test clock."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from kvitt.core.db import Base, UtcDateTime, utcnow


class TestClock(Base):
    __tablename__ = "test_clocks"
    __test__ = False  # not a pytest test class

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    current_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


__all__ = ["TestClock"]
