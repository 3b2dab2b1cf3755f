"""``kvitt export facts``: the command behind it (kept here, out of the shared cli.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kvitt.core.config import get_settings
from kvitt.core.db import Database
from kvitt.reports import export
from kvitt.tenants import service as tenants

console = Console()
err = Console(stderr=True)


def export_facts(
    folder: Annotated[
        Path, typer.Argument(help="The folder to write into (created; holds the cursor).", file_okay=False)
    ],
    date_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day, included.")],
    date_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, or parquet (needs pyarrow).")] = "csv",
    settle: Annotated[
        int, typer.Option("--settle", min=0, help="Seconds a row must be old to be taken (open transactions).")
    ] = export.DEFAULT_SETTLE_SECONDS,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant id or organisation number (may be left out with one tenant).")
    ] = None,
) -> None:
    """Invoices, lines, payments, deliveries and events of a period as files for a data warehouse;
    a rerun writes only what is new or changed since the last run into the same folder."""
    if date_from > date_to:
        err.print("[red]error:[/red] --from is after --to")
        raise typer.Exit(2)
    db = Database(get_settings().database_url)
    try:
        with db.transaction() as session:
            outcome = export.export_facts(
                session,
                tenants.resolve(session, tenant),
                folder,
                date_from.date(),
                date_to.date(),
                fmt=fmt,
                settle_seconds=settle,
            )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    counts = ", ".join(f"{name} {n}" for name, n in outcome.rows.items())
    if outcome.files:
        console.print(f"run {outcome.run}: {counts} (rows up to {outcome.bound.isoformat()})")
        for path in outcome.files:
            console.print(f"  {path}")
    else:
        console.print(f"nothing new since run {outcome.run} (rows up to {outcome.bound.isoformat()})")
