"""The watched inbox (``KVITT_INBOX_DIR``): BGMax files the bank connection drops there.

The worker reads it at the configured times (default 07:00, 12:00 and 17:00 Swedish time,
Bankgirot's three daily deliveries). Each file is routed to the tenant whose bankgiro it pays
and imported in a savepoint of the job's transaction: a good file is imported once (its
content hash is remembered, so the file may stay where it is), a bad one is recorded as
rejected with its line and field and not tried again. Files are never moved or deleted: what
the bank delivered stays as it came, for the auditors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.errors import ValidationFailed
from kvitt.core.outbox import OutboxJob, handles
from kvitt.core.tokens import content_hash
from kvitt.payments.imports import import_bgmax, payee_bankgiro, record_rejection
from kvitt.payments.models import PaymentFile
from kvitt.tenants.models import Tenant

READ_INBOX_JOB = "payments.read_inbox"
log = structlog.get_logger("kvitt.inbox")


@dataclass
class InboxResult:
    path: str
    outcome: str  # imported | already_imported | rejected | unknown_payee
    detail: str = ""


def read_inbox(session: Session, inbox: Path, *, today: date, actor: str = "inbox") -> list[InboxResult]:
    results = []
    known = set(session.scalars(select(PaymentFile.content_hash)))
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        if content_hash(data) in known or data.startswith(b"01AUTOGIRO"):
            continue  # Bankgirot's autogiro files are read by kvitt.autogiro (autogiro.read_inbox)
        results.append(_read_one(session, path, data, today=today, actor=actor))
    return results


def _read_one(session: Session, path: Path, data: bytes, *, today: date, actor: str) -> InboxResult:
    bankgiro = payee_bankgiro(data)
    tenant = session.scalar(select(Tenant).where(Tenant.bankgiro == bankgiro)) if bankgiro else None
    if tenant is None:
        log.error("inbox file pays no tenant's bankgiro", file=path.name, bankgiro=bankgiro)
        return InboxResult(path.name, "unknown_payee", f"bankgiro {bankgiro}")
    try:
        with session.begin_nested():
            outcome = import_bgmax(session, tenant, data, filename=path.name, source="inbox", today=today, actor=actor)
    except ValidationFailed as exc:
        record_rejection(session, tenant, data, filename=path.name, source="inbox", error=exc)
        log.error("inbox file rejected", file=path.name, error=exc.message, where=exc.param)
        return InboxResult(path.name, "rejected", f"{exc.param}: {exc.message}")
    log.info("inbox file imported", file=path.name, payments=outcome.file.payments, deviations=outcome.file.deviations)
    return InboxResult(path.name, "already_imported" if outcome.already_imported else "imported")


@handles(READ_INBOX_JOB)
def run_read_inbox(session: Session, job: OutboxJob) -> None:
    read_inbox(session, Path(job.payload["inbox"]), today=date.fromisoformat(job.payload["date"]))
