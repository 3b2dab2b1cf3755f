"""Importing a BGMax file: validate all of it, then book and match all of it, or nothing.

The file is read twice: a first streaming pass checks every record, count and sum (and that it
is for this tenant's bankgiro, in SEK) without writing anything; the second pass books the
payments deposit by deposit in batches, in the caller's one transaction. The file may be given
as bytes or as an open binary file (the CLI passes the file itself): from a file, both passes and
the content hash read it line by line and chunk by chunk, so memory does not grow with the file;
from bytes, lines are cut lazily, never copied into a list. A file imported
before (same bytes) changes nothing and says so; a payment imported before (same Bankgirot
serial, e.g. in a corrected file) is skipped and counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from kvitt.core.clock import STOCKHOLM
from kvitt.core.errors import ValidationFailed
from kvitt.core.tokens import content_hash
from kvitt.formats import bgmax
from kvitt.payments.models import PaymentFile
from kvitt.payments.service import Incoming, receive
from kvitt.tenants.models import Tenant

BATCH = 2000
HASH_CHUNK = 1 << 20

# The file: its bytes, or an open binary file that can be read again from the start.
Source = bytes | BinaryIO


@dataclass
class ImportOutcome:
    file: PaymentFile
    already_imported: bool


def import_bgmax(
    session: Session,
    tenant: Tenant,
    data: Source,
    *,
    filename: str | None,
    source: str,
    today: date,
    actor: str,
) -> ImportOutcome:
    digest = _hash(data)
    known = session.scalar(
        select(PaymentFile).where(PaymentFile.tenant_id == tenant.id, PaymentFile.content_hash == digest)
    )
    if known is not None:
        if known.state == "rejected":
            raise ValidationFailed(f"the file was not imported: {known.error}", param="body", code="invalid_file")
        return ImportOutcome(known, already_imported=True)
    header, deposit_count = _validate(data)
    file = _new_file(
        tenant,
        digest,
        filename=filename,
        source=source,
        created_by_bank=header.created.replace(tzinfo=STOCKHOLM).astimezone(UTC),
        test_file=header.test,
        deposits=deposit_count,
    )
    session.add(file)
    session.flush()
    try:
        # A deposit for another bankgiro or currency raises here; the caller's transaction then
        # rolls back whatever earlier batches wrote, so nothing of the file is applied.
        for batch in _batches(tenant, bgmax.iter_deposits(_lines(data))):
            result = receive(session, tenant, batch, file_id=file.id, today=today, actor=actor)
            file.payments += len(result.payments)
            file.duplicates += result.duplicates
            file.amount += result.amount
            file.matched += result.matched
            file.deviations += result.deviations
    except bgmax.BgmaxError as exc:
        raise _refusal(exc) from exc
    session.flush()
    return ImportOutcome(file, already_imported=False)


def _lines(data: Source) -> Iterator[bytes]:
    """The file's lines, one at a time, from the start (with their line ends; the reader strips them)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bgmax.split_lines(bytes(data))
    data.seek(0)
    return iter(data)


def _hash(data: Source) -> str:
    """``content_hash`` of the file's bytes, read in chunks from a file."""
    if isinstance(data, bytes | bytearray | memoryview):
        return content_hash(bytes(data))
    data.seek(0)
    digest = hashlib.sha256()
    while chunk := data.read(HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _validate(data: Source) -> tuple[bgmax.BgmaxHeader, int]:
    """One streaming pass over every record, count and sum, before anything is written."""
    try:
        header, deposits, _payments = bgmax.validate(_lines(data))
    except bgmax.BgmaxError as exc:
        raise _refusal(exc) from exc
    return header, deposits


def _refusal(exc: bgmax.BgmaxError) -> ValidationFailed:
    return ValidationFailed(
        f"the file was not imported: {exc}", param=f"line {exc.line}: {exc.field}", code="invalid_file"
    )


def _check_deposit(tenant: Tenant, deposit: bgmax.BgmaxDeposit) -> None:
    ours = (tenant.bankgiro or "").replace("-", "")
    theirs = deposit.payee_bankgiro.lstrip("0")
    if theirs != ours:
        raise bgmax.BgmaxError(
            f"the file pays bankgiro {deposit.payee_bankgiro_number}, not this tenant's ({tenant.bankgiro})",
            line=deposit.line,
            field="payee bankgiro (TK05 3-12) of the deposit that ends here",
        )
    if deposit.currency != "SEK":
        raise bgmax.BgmaxError(
            f"currency {deposit.currency!r}: only SEK is handled",
            line=deposit.line,
            field="currency (TK05 23-25) of the deposit that ends here",
        )


def _batches(tenant: Tenant, deposits: Iterable[bgmax.BgmaxDeposit]) -> Iterator[list[Incoming]]:
    batch: list[Incoming] = []
    for deposit in deposits:
        _check_deposit(tenant, deposit)
        for payment in deposit.payments:
            batch.append(_incoming(deposit, payment))
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _incoming(deposit: bgmax.BgmaxDeposit, payment: bgmax.BgmaxPayment) -> Incoming:
    deduction = payment.kind == "deduction"
    return Incoming(
        amount=-payment.amount if deduction else payment.amount,
        date=deposit.date,
        source="bankgiro",
        reference=payment.reference or None,
        reference_code=payment.reference_code,
        extra_references=[extra.reference for extra in payment.extra_references],
        payer_name=payment.payer_name,
        payer_account=payment.payer_bankgiro.lstrip("0") or None,
        bank_serial=payment.bgc_serial,
        details={
            "free_text": list(payment.free_text),
            "channel": payment.channel,
            "deduction_code": payment.deduction_code,
            "payer_org_number": payment.payer_org_number,
            "payer_address": payment.payer_address,
            "payer_postcode": payment.payer_postcode,
            "payer_city": payment.payer_city,
            "extra_references": [
                {"reference": e.reference, "amount": e.amount, "reference_code": e.reference_code}
                for e in payment.extra_references
            ],
            "deposit": {"serial": deposit.deposit_serial, "date": deposit.date.isoformat()},
        },
    )


def record_rejection(
    session: Session, tenant: Tenant, data: Source, *, filename: str | None, source: str, error: ValidationFailed
) -> PaymentFile:
    """Remember a file that failed its checks, so the inbox does not try it again and staff see why."""
    file = _new_file(
        tenant,
        _hash(data),
        filename=filename,
        source=source,
        state="rejected",
        error=f"{error.param}: {error.message}"[:1000],
    )
    session.add(file)
    session.flush()
    return file


def _new_file(tenant: Tenant, digest: str, *, filename: str | None, source: str, **fields: Any) -> PaymentFile:
    counts = dict.fromkeys(("deposits", "payments", "duplicates", "amount", "matched", "deviations"), 0)
    return PaymentFile(
        tenant_id=tenant.id,
        format="bgmax",
        filename=filename,
        content_hash=digest,
        source=source,
        **{**counts, **fields},
    )


def payee_bankgiro(data: Source) -> str | None:
    """The bankgiro the file's first deposit pays, to route an inbox file to its tenant."""
    try:
        first = next(bgmax.iter_deposits(_lines(data)), None)
    except bgmax.BgmaxError:
        return None
    return first.payee_bankgiro_number if first else None
