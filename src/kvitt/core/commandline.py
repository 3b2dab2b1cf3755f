"""What every ``kvitt`` command group shares: the ``--tenant`` option and one unit of work.

A command opens its own database, runs one transaction and prints a Kvitt error as one red line
(its parameter named) with exit code 1: never a traceback for a mistake a person can fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from kvitt.core.config import get_settings
from kvitt.core.db import Database
from kvitt.core.errors import KvittError

err = Console(stderr=True)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant id or organisation number (may be left out with one tenant).")
]


def database() -> Database:
    return Database(get_settings().database_url)


@contextmanager
def transaction() -> Iterator[Session]:
    """One command's unit of work: committed at the end, a Kvitt error printed as one line."""
    db = database()
    try:
        with db.transaction() as session:
            yield session
    except KvittError as exc:
        fail(exc)
    finally:
        db.dispose()


def fail(exc: KvittError) -> None:
    """Print the error as one line (with its parameter) and leave with exit code 1."""
    where = f" ({exc.param})" if exc.param else ""
    err.print(f"[red]error:[/red] {exc.message}{where}")
    raise typer.Exit(1) from None
