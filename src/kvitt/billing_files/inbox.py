"""The billing-file inbox: ``<KVITT_INBOX_DIR>/billing/<organisation number>/``.

Each tenant has its own subfolder, named by its organisation number (``5560360793`` or
``556036-0793``): a file's folder says whose it is, so an issuer's ERP (or SFTP account) is
given only its own folder. Files there are read at the inbox times (``KVITT_INBOX_TIMES``,
like the bank files): ``*.jsonl``/``*.ndjson`` as JSON Lines; anything else as canonical CSV,
or, when the folder holds a ``mapping.toml``, with that mapping. Files that start with ``.``
(a transfer in progress) are left for the next read. Every file is imported in a savepoint of
the job's transaction with ``issue`` on (the issuer dropped it to be invoiced); a bad file is
recorded as rejected with its errors and not tried again until its bytes change. Files are
never moved or deleted; the content hash remembers what was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.billing_files import mappings, service
from kvitt.billing_files.models import BillingFile
from kvitt.core.errors import ValidationFailed
from kvitt.core.outbox import OutboxJob, handles
from kvitt.formats import billing_file as codec
from kvitt.tenants.models import Tenant

READ_BILLING_INBOX_JOB = "billing_files.read_inbox"
SUBFOLDER = "billing"
MAPPING_FILE = "mapping.toml"
log = structlog.get_logger("kvitt.billing_inbox")


@dataclass
class InboxResult:
    tenant: str
    path: str
    outcome: str  # imported | rejected | unknown_tenant | bad_mapping
    detail: str = ""


def read_billing_inbox(session: Session, inbox: Path, *, today: date, actor: str = "inbox") -> list[InboxResult]:
    root = inbox / SUBFOLDER
    if not root.is_dir():
        return []
    results: list[InboxResult] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        tenant = _tenant_of(session, folder.name)
        if tenant is None:
            log.error("billing inbox folder names no tenant", folder=folder.name)
            results.append(InboxResult(folder.name, "", "unknown_tenant"))
            continue
        results += _read_folder(session, tenant, folder, today=today, actor=actor)
    return results


def _tenant_of(session: Session, name: str) -> Tenant | None:
    digits = name.replace("-", "")
    if len(digits) != 10 or not digits.isdigit():
        return None
    return session.scalar(select(Tenant).where(Tenant.org_number == f"{digits[:6]}-{digits[6:]}"))


def _read_folder(session: Session, tenant: Tenant, folder: Path, *, today: date, actor: str) -> list[InboxResult]:
    try:
        mapped = mappings.from_file(folder / MAPPING_FILE) if (folder / MAPPING_FILE).is_file() else None
    except ValidationFailed as exc:
        log.error("billing inbox mapping is bad", folder=folder.name, error=exc.message)
        return [InboxResult(folder.name, MAPPING_FILE, "bad_mapping", exc.message)]
    known = set(session.scalars(select(BillingFile.content_hash).where(BillingFile.tenant_id == tenant.id)))
    results = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.name == MAPPING_FILE or service.file_hash(path)[0] in known:
            continue
        mapping = codec.JSONL if path.suffix in (".jsonl", ".ndjson") else mapped or codec.CANONICAL
        results.append(_read_one(session, tenant, folder.name, path, mapping, today=today, actor=actor))
    return results


def _read_one(
    session: Session, tenant: Tenant, folder: str, path: Path, mapping: codec.Mapping, *, today: date, actor: str
) -> InboxResult:
    options = service.Options(issue=True, upsert_customers=True)
    try:
        with session.begin_nested():
            outcome = service.import_billing_file(
                session,
                tenant,
                path,
                mapping=mapping,
                options=options,
                filename=path.name,
                source="inbox",
                today=today,
                actor=actor,
            )
    except ValidationFailed as exc:
        service.record_rejection(
            session, tenant, path, mapping=mapping, options=options, filename=path.name, source="inbox", error=exc
        )
        log.error("billing file rejected", file=path.name, error=exc.message)
        return InboxResult(folder, path.name, "rejected", exc.message)
    log.info("billing file imported", file=path.name, invoices=outcome.file.invoices, skipped=outcome.file.skipped)
    return InboxResult(folder, path.name, "imported", f"{outcome.file.invoices} invoices")


@handles(READ_BILLING_INBOX_JOB)
def run_read_billing_inbox(session: Session, job: OutboxJob) -> None:
    read_billing_inbox(session, Path(job.payload["inbox"]), today=date.fromisoformat(job.payload["date"]))
