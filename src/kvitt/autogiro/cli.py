"""``kvitt autogiro export FILE [--date D] | import FILE`` (mounted by kvitt.cli)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kvitt.autogiro import files
from kvitt.core.commandline import TenantOption, err
from kvitt.core.commandline import transaction as _transaction
from kvitt.core.money import format_amount
from kvitt.tenants import service as tenants
from kvitt.testclock import service as testclock

autogiro_app = typer.Typer(help="Autogiro: the files exchanged with Bankgirot.", no_args_is_help=True)
console = Console()


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print(f"[red]error:[/red] --date {text!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


@autogiro_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the file for Bankgirot.")],
    on: Annotated[str | None, typer.Option("--date", help="The day the file is sent (default: today).")] = None,
    tenant: TenantOption = None,
) -> None:
    """Write every due mandate order and payment order into FILE, each once (a rerun writes nothing twice)."""
    wanted = _day(on)
    with _transaction() as session:
        chosen = tenants.resolve(session, tenant)
        day = wanted or testclock.today_for(session, chosen)
        exported = files.export_orders(session, chosen, day=day, name=file.name)
        if exported.data is not None:
            file.write_bytes(exported.data)  # inside the transaction: no file, no "sent" marks
    if exported.data is None:
        console.print(f"nothing due on {day.isoformat()}: no file written")
        return
    console.print(
        f"{file}: {exported.new_mandates} new mandates, {exported.cancellations} cancellations, "
        f"{exported.changes} payer number changes, "
        f"{exported.debits} debits of {format_amount(exported.amount)}, "
        f"{exported.credits} credits of {format_amount(exported.credit_amount)} (autogiro file {exported.file_id})"
    )


@autogiro_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A file from Bankgirot (advice, specification, rejections, BGMax).")],
    tenant: TenantOption = None,
) -> None:
    """Read a file from Bankgirot, recognised by its opening record; a file read before changes nothing."""
    data = file.read_bytes()
    with _transaction() as session:
        chosen = tenants.resolve(session, tenant)
        today = testclock.today_for(session, chosen)
        imported = files.import_file(session, chosen, data, name=file.name, today=today, actor="cli")
    if imported.already_imported:
        console.print(f"{file.name} was imported before (autogiro file {imported.file_id}): nothing changed")
        return
    shown = ", ".join(
        f"{k} {v}"
        for key, value in imported.summary.items()
        for k, v in ([(f"{key} {k2}", v2) for k2, v2 in value.items()] if isinstance(value, dict) else [(key, value)])
        if v
    )
    console.print(f"{file.name}: {imported.kind}: {shown or 'nothing to apply'} (autogiro file {imported.file_id})")
