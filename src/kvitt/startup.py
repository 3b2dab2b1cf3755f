"""What every ``kvitt`` command does first, and how its failures read.

- The configuration is checked once, before the command runs: one line per refused setting
  naming the ``KVITT_*`` variable, its value and what is allowed, then exit code 2. Unknown
  ``KVITT_*`` names are warned about (once) with the closest setting.
- A command that fails on the database (PostgreSQL down, a missing database, a schema that is
  not at head) ends with one line that names the problem and its fix, exit code 1; a database
  error on a healthy, migrated database is a bug and keeps its traceback.
- A file or folder the command cannot read or write ends with one line naming it, exit code 1.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError
from typer import _click as click  # the click typer vendors (its Context type)
from typer.core import TyperGroup

from kvitt.core.config import Settings, get_settings, problems_of, unknown_names

err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}")


def load_settings() -> Settings:
    """The settings, or exit 2 with one line per problem (and a warning per unknown name)."""
    for warning in unknown_names():
        warn(warning)
    get_settings.cache_clear()
    try:
        return get_settings()
    except ValidationError as exc:
        for line in problems_of(exc):
            err.print(f"[red]error:[/red] {escape(line)}")
        raise typer.Exit(2) from None


def describe_os_error(exc: OSError) -> str:
    """``[Errno 2] No such file or directory: 'x/y.se'`` → ``cannot write x/y.se: no such folder x``."""
    name = exc.filename
    reason = (exc.strerror or str(exc)).lower()
    if name is None:
        return reason
    path = Path(os.fsdecode(name))
    if exc.errno == errno.ENOENT and not path.parent.is_dir():
        return f"{path}: the folder {path.parent} does not exist"
    return f"{path}: {reason}"


def output_file(path: Path) -> Path:
    """Refuse, before any work is done, a file the command could not write."""
    folder = path.absolute().parent
    if path.is_dir():
        fail(f"{path} is a folder; name a file to write")
    if not folder.is_dir():
        fail(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"cannot write {path}: permission denied")
    return path


def _asks_for_help(ctx: click.Context) -> bool:
    args = [*getattr(ctx, "_protected_args", []), *ctx.args]
    return any(arg in ("--help", "-h") for arg in args) or ctx.resilient_parsing


class KvittGroup(TyperGroup):
    """The root ``kvitt`` group: configuration first, then one clean line for known failures."""

    def invoke(self, ctx: click.Context) -> Any:
        settings = None if _asks_for_help(ctx) else load_settings()
        try:
            return super().invoke(ctx)
        except DBAPIError:
            from kvitt.core.readiness import database_status

            status = database_status((settings or get_settings()).database_url)
            if status.ready:
                raise  # the database is fine: a bug, keep its traceback
            fail(status.message)
        except OSError as exc:
            fail(describe_os_error(exc))
