"""The audit log: every staff action, who did it, when, and the state before and after."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.admin.models import AuditEntry
from kvitt.core.db import utcnow


class Actor(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def tenant_id(self) -> int: ...
    @property
    def email(self) -> str: ...


def _plain(value: Any) -> Any:
    """Values a JSON column keeps: dates as ISO text, Decimals as text, the rest as is."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def audit(
    session: Session,
    staff: Actor,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    target: str = "",
) -> AuditEntry:
    """Record one staff action in the caller's transaction (it is kept only if the action is)."""
    entry = AuditEntry(
        tenant_id=staff.tenant_id,
        staff_id=staff.id,
        staff_email=staff.email,
        action=action,
        target=target,
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def audit_changes(
    session: Session, staff: Actor, action: str, before: dict[str, Any], after: dict[str, Any], *, target: str
) -> AuditEntry | None:
    """Record only the fields that changed, before and after; nothing when none did."""
    changed = sorted(key for key in after if before.get(key) != after.get(key))
    if not changed:
        return None
    return audit(
        session, staff, action, {k: before.get(k) for k in changed}, {k: after[k] for k in changed}, target=target
    )


def entries(
    session: Session, tenant_id: int, *, before_id: int | None = None, limit: int = 100, action: str | None = None
) -> list[AuditEntry]:
    """The newest first, a page at a time (``before_id``: the last id of the previous page)."""
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


CSV_COLUMNS = ("id", "at", "staff_email", "action", "target", "before", "after")


def to_csv(rows: Iterable[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.id,
                row.at.isoformat(),
                row.staff_email,
                row.action,
                row.target,
                json.dumps(row.before, ensure_ascii=False, sort_keys=True) if row.before is not None else "",
                json.dumps(row.after, ensure_ascii=False, sort_keys=True) if row.after is not None else "",
            ]
        )
    return out.getvalue()
