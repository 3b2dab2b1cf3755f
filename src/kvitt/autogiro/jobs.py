"""The worker's autogiro job: each banking day, the order file into ``KVITT_AUTOGIRO_OUTBOX_DIR``."""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.autogiro import bankdays, files, service
from kvitt.autogiro.models import AutogiroFile
from kvitt.core.clock import daily_job
from kvitt.core.config import get_settings
from kvitt.core.errors import KvittError
from kvitt.core.outbox import OutboxJob, handles
from kvitt.tenants.models import Tenant

EXPORT_JOB = "autogiro.export"
daily_job(EXPORT_JOB, order=15)  # after the billing run (10): the day's new invoices are planned too
log = structlog.get_logger("kvitt.autogiro")


def free_path(folder: Path, tenant: Tenant, day: date) -> Path:
    """``autogiro-<tenant>-<YYYYMMDD>.txt``, numbered when a file of that day is still there."""
    stem = f"autogiro-{tenant.id}-{day.strftime('%Y%m%d')}"
    target, n = folder / f"{stem}.txt", 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}.txt"
    return target


@handles(EXPORT_JOB)
def run_export(session: Session, job: OutboxJob) -> None:
    folder = get_settings().autogiro_outbox_dir
    tenant = session.get(Tenant, job.tenant_id)
    day = date.fromisoformat(job.payload["date"])
    if not folder or tenant is None or not bankdays.is_banking_day(day):
        return
    if not service.settings_of(session, tenant).bgc_customer_number or not tenant.bankgiro:
        return  # the tenant has no autogiro agreement
    target = free_path(Path(folder), tenant, day)
    exported = files.export_orders(session, tenant, day=day, name=target.name)
    if exported.data is None:
        return
    # Written under a temporary name and renamed: whoever collects the folder never sees half a
    # file. Written before the job's transaction commits: a failed write marks nothing sent.
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(exported.data)
    os.replace(partial, target)
    log.info("autogiro order file written", file=str(target), debits=exported.debits, mandates=exported.new_mandates)


# --- the bank-file inbox -------------------------------------------------------------------------

READ_INBOX_JOB = "autogiro.read_inbox"
# Bankgirot's autogiro files (mandate advice, payment specification, rejected orders) open with
# this; autogiro results in BGMax format start ``01BGMAX`` and are left to the payments inbox.
AUTOGIRO_OPENING = b"01AUTOGIRO"


def read_inbox(session: Session, inbox: Path, *, today: date, actor: str = "inbox") -> dict[str, str]:
    """Import every autogiro file of the inbox not read before, each for the tenant whose bankgiro
    it names, each in a savepoint: a refused file is logged and tried again at the next read."""
    outcomes: dict[str, str] = {}
    known = set(session.scalars(select(AutogiroFile.sha256).where(AutogiroFile.direction == "from")))
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        if not data.startswith(AUTOGIRO_OPENING) or hashlib.sha256(data).hexdigest() in known:
            continue
        outcomes[path.name] = _read_one(session, path.name, data, today=today, actor=actor)
    return outcomes


def _read_one(session: Session, name: str, data: bytes, *, today: date, actor: str) -> str:
    bankgiro = data[70:80].decode("ascii", "replace").strip()
    digits = str(int(bankgiro)) if bankgiro.isdigit() else ""
    tenants = [t for t in session.scalars(select(Tenant).where(Tenant.bankgiro.is_not(None))) if _digits(t) == digits]
    if len(tenants) != 1:
        log.error("autogiro inbox file names no tenant's bankgiro", file=name, bankgiro=bankgiro)
        return "unknown_payee"
    try:
        with session.begin_nested():
            imported = files.import_file(session, tenants[0], data, name=name, today=today, actor=actor)
    except KvittError as exc:
        log.error("autogiro inbox file refused", file=name, error=exc.message)
        return "refused"
    log.info("autogiro inbox file imported", file=name, kind=imported.kind, **imported.summary)
    return "imported"


def _digits(tenant: Tenant) -> str:
    digits = (tenant.bankgiro or "").replace("-", "")
    return str(int(digits)) if digits.isdigit() else ""


@handles(READ_INBOX_JOB)
def run_read_inbox(session: Session, job: OutboxJob) -> None:
    read_inbox(session, Path(job.payload["inbox"]), today=date.fromisoformat(job.payload["date"]))
