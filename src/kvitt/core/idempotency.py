"""Stored results of POST requests made with an ``Idempotency-Key`` (Stripe's rules).

Same key and same request: the first response again. Same key and another request: 409.
The record is written in the transaction of the request it answers, so a request that was
rolled back leaves no record and may be retried.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def find(session: Session, tenant_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key)
    )


def remember(session: Session, tenant_id: int, key: str, request_hash: str, status_code: int, response: Any) -> None:
    session.add(
        IdempotencyRecord(
            tenant_id=tenant_id, key=key, request_hash=request_hash, status_code=status_code, response=response
        )
    )
