"""Stored results of POST requests made with an ``Idempotency-Key`` (Stripe's rules).

Same key and same request: the first response again. Same key and another request: 409.
The record is written in the transaction of the request it answers, so a request that was
rolled back leaves no record and may be retried. Records are kept for 24 hours, as Stripe does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kvitt.core.db import Base, BigId, JsonType, UtcDateTime, utcnow
from kvitt.core.outbox import OutboxJob, handles

KEEP_FOR = timedelta(hours=24)
PRUNE_JOB = "idempotency.prune"


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "key"), Index("ix_idempotency_keys_created_at", "created_at"))

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


def prune(session: Session, now: datetime) -> int:
    """Forget records older than :data:`KEEP_FOR`; returns how many went."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEEP_FOR))
    return int(getattr(result, "rowcount", 0) or 0)


@handles(PRUNE_JOB)
def run_prune(session: Session, job: OutboxJob) -> None:
    prune(session, utcnow())
