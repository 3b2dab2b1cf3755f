"""The journal as a SIE 4 file, for the tenant's bookkeeping program.

What the file holds, where SIE leaves the choice to us:

- Every journal entry of the tenant dated ``date_from``..``date_to`` (both included) is one
  ``#VER`` in one series (``A`` unless the caller names another), numbered 1, 2, 3, ... in
  the file, by date and then by entry id: the numbers are the file's own, gap-free, and the
  voucher text (``Faktura 12``, ``Betalning faktura 12``, ...) says what each one is. The
  receiving program usually renumbers imported vouchers into its own series anyway.
- One ``#TRANS`` per journal line, amount in kronor, debit positive (SIE's sign, ours too).
- ``#KONTO`` for each account the vouchers use, named from the BAS names Kvitt knows
  (``ledger.accounts.NAMES``), else ``Konto NNNN`` (an account the tenant mapped itself).
- ``#RAR 0`` is the exported period, not a fiscal year: Kvitt does not know the tenant's
  fiscal year, and readers check that vouchers fall inside ``#RAR 0``.
- No ``#IB``/``#UB``/``#RES`` balances: Kvitt keeps only the receivables side of the books, so
  the file is a batch of vouchers for the main ledger (what SIE calls type 4I use).
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import date

from sqlalchemy.orm import Session

from kvitt import __version__
from kvitt.core import clock
from kvitt.core.errors import ValidationFailed
from kvitt.formats import sie4
from kvitt.ledger import queries
from kvitt.ledger.accounts import NAMES
from kvitt.tenants.models import Tenant

PROGRAM = "Kvitt"
DEFAULT_SERIES = "A"


def account_name(account: str) -> str:
    return NAMES.get(account, f"Konto {account}")


def sie_document(
    session: Session,
    tenant: Tenant,
    date_from: date,
    date_to: date,
    *,
    series: str = DEFAULT_SERIES,
    generated: date | None = None,
) -> sie4.SieFile:
    """The tenant's journal for the period as SIE data (``export_sie`` writes it as bytes)."""
    if date_from > date_to:
        raise ValidationFailed(f"from ({date_from}) is after to ({date_to})", param="from")
    entries = queries.entries_between(session, tenant.id, date_from, date_to)
    lines: dict[int, list[sie4.Transaction]] = defaultdict(list)
    for entry_id, account, amount in queries.lines_between(session, tenant.id, date_from, date_to):
        lines[entry_id].append(sie4.Transaction(account, amount))
    vouchers = tuple(
        sie4.Voucher(series, number, entry.date, entry.text, tuple(lines[entry.id]))
        for number, entry in enumerate(entries, start=1)
    )
    used = {t.account for voucher in vouchers for t in voucher.transactions}
    company = sie4.Company(
        program=PROGRAM,
        program_version=__version__,
        generated=generated or clock.today(),
        name=tenant.name,
        org_number=tenant.org_number,
        fiscal_year_start=date_from,
        fiscal_year_end=date_to,
        currency=tenant.currency,
    )
    return sie4.SieFile(company, {account: account_name(account) for account in used}, vouchers)


def export_sie(
    session: Session,
    tenant: Tenant,
    date_from: date,
    date_to: date,
    *,
    series: str = DEFAULT_SERIES,
    generated: date | None = None,
) -> bytes:
    """Every journal entry of the tenant dated ``date_from``..``date_to`` as a SIE 4 file (CP437 bytes)."""
    return sie4.write(sie_document(session, tenant, date_from, date_to, series=series, generated=generated))


def file_name(date_from: date, date_to: date) -> str:
    return f"kvitt-{date_from.isoformat().replace('-', '')}-{date_to.isoformat().replace('-', '')}.se"


def write_sie_file(
    session: Session, tenant: Tenant, date_from: date, date_to: date, path: str | os.PathLike[str]
) -> int:
    """``kvitt export sie``: write the export to ``path``; returns the number of bytes written.

    The whole file is built before anything is written, and it is written to a temporary file
    beside ``path`` that then replaces it, so a failed export leaves no half file behind.
    """
    data = export_sie(session, tenant, date_from, date_to)
    target = os.fspath(path)
    temporary = f"{target}.tmp-{os.getpid()}"
    try:
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return len(data)
