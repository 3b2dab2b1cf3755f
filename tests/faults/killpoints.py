"""Kill -9 at seeded points: a ``kvitt`` command in a child process, SIGKILLed just before its
K-th SQL statement, and the checks every test in this folder makes afterwards.

The child is forked from the test process after ``kvitt.cli`` is imported (the command line's
imports cost ~1-4 s a process on a loaded machine; a fork costs milliseconds), so one test can
afford dozens of kill points. It runs the command line itself (``kvitt.cli.app``), with its own
database engine, and ends with ``os._exit``: it never touches the test process's connections.
The hook is the one of tests/webhooks/kill_worker.py: a ``before_cursor_execute`` listener that
counts statements and sends SIGKILL to its own process at the K-th (COPY is not a statement).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kvitt.core.events import DOMAIN_EVENT_JOB, DOMAIN_EVENTS_JOB
from kvitt.core.outbox import OutboxJob
from kvitt.invoices.models import Invoice
from kvitt.ledger.models import JournalLine


@dataclass(frozen=True)
class Run:
    kill_at: int  # the statement it was to be killed before (0: never)
    killed: bool
    code: int  # the exit code when not killed
    statements: int  # statements it ran (only known when not killed)
    output: str


def run_cli(args: list[str], database_url: str, log: Path, kill_at: int = 0) -> Run:
    """``kvitt <args>`` on ``database_url`` in a forked child, killed before statement ``kill_at``."""
    count_file = log.with_suffix(".count")
    count_file.unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(out, 2)
            # pytest's capture replaced sys.stdout/err with its own objects: write to the log.
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            code = _child(args, database_url, kill_at, count_file)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    output = log.read_text(errors="replace")
    statements = int(count_file.read_text()) if count_file.exists() else -1
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL, output
        return Run(kill_at, True, -signal.SIGKILL, -1, output)
    return Run(kill_at, False, os.WEXITSTATUS(status), statements, output)


def _child(args: list[str], database_url: str, kill_at: int, count_file: Path) -> int:
    from kvitt.cli import app
    from kvitt.core.config import get_settings

    for name in [name for name in os.environ if name.startswith("KVITT_")]:
        del os.environ[name]
    os.environ["KVITT_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    statements = 0

    def before(*_: Any) -> None:
        nonlocal statements
        statements += 1
        if statements == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup: the transaction is cut where it stands

    event.listen(Engine, "before_cursor_execute", before)
    try:
        app(args, prog_name="kvitt")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    count_file.write_text(str(statements))
    return code


def seeded_points(seed: int, count: int, low: int, high: int) -> list[int]:
    """``count`` distinct statement numbers in [low, high], the same for a seed on every run."""
    return sorted(random.Random(seed).sample(range(low, high + 1), count))


# The checks after the rerun ---------------------------------------------------------------------


def assert_numbers_without_gap(session: Session, tenant_id: int) -> int:
    """The tenant's issued invoices are numbered 1..n: no gap, no repeat. Returns n."""
    numbers = sorted(
        session.scalars(select(Invoice.number).where(Invoice.tenant_id == tenant_id, Invoice.number.is_not(None)))
    )
    assert numbers == list(range(1, len(numbers) + 1)), f"numbers {numbers[:30]}..."
    return len(numbers)


def assert_ledger_balanced(session: Session, tenant_id: int) -> None:
    """Debits = credits in every journal entry and overall (amounts are signed öre)."""
    unbalanced = session.execute(
        select(JournalLine.entry_id, func.sum(JournalLine.amount))
        .where(JournalLine.tenant_id == tenant_id)
        .group_by(JournalLine.entry_id)
        .having(func.sum(JournalLine.amount) != 0)
    ).all()
    assert unbalanced == []
    total = session.scalar(
        select(func.coalesce(func.sum(JournalLine.amount), 0)).where(JournalLine.tenant_id == tenant_id)
    )
    assert total == 0


def published_events(session: Session, tenant_id: int, kind: str) -> list[dict[str, Any]]:
    """Every domain event of ``kind`` in the outbox (single rows and bundles), done or not."""
    out: list[dict[str, Any]] = []
    rows = session.execute(
        select(OutboxJob.kind, OutboxJob.payload).where(
            OutboxJob.tenant_id == tenant_id, OutboxJob.kind.in_([DOMAIN_EVENT_JOB, DOMAIN_EVENTS_JOB])
        )
    ).all()
    for job_kind, payload in rows:
        for one in payload["events"] if job_kind == DOMAIN_EVENTS_JOB else [payload]:
            if one["type"] == kind:
                out.append(one)
    return out


def assert_one_issued_event_per_invoice(session: Session, tenant_id: int) -> None:
    """No lost job and none twice: each issued invoice's ``invoice.issued`` event is queued once."""
    issued = set(session.scalars(select(Invoice.id).where(Invoice.tenant_id == tenant_id, Invoice.number.is_not(None))))
    events = [one["invoice_id"] for one in published_events(session, tenant_id, "invoice.issued")]
    assert len(events) == len(set(events)), "an invoice.issued event queued twice"
    assert set(events) == issued
