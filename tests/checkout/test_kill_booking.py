"""Kvitt killed between Swish's "paid" and the booking: the worker (``kvitt jobs run``, in a
forked child) is SIGKILLed before its K-th SQL statement while its poll job fetches the paid
request and books it; after every kill the payment is booked once or not at all, and the run
after the kills books it exactly once, with a balanced ledger."""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

import kvitt.cli  # noqa: F401 - imported before the forks, so that each child starts fast
from kvitt.checkout.models import PaymentRequest
from kvitt.core.db import utcnow
from kvitt.core.outbox import OutboxJob
from kvitt.payments.models import Payment
from tests.checkout.conftest import Shop

POINTS = range(1, 50, 5)


def jobs_run_killed_at(kill_at: int, log: Path, database_url: str) -> bool:
    """``kvitt jobs run`` in a forked child with this process's KVITT_* settings (a lease of one
    second, so that a killed job is due again at once); True if it was killed."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(out, 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            code = _child(kill_at, database_url)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, log.read_text(errors="replace")
    return False


def _child(kill_at: int, database_url: str) -> int:
    from kvitt.cli import app
    from kvitt.core.config import get_settings

    os.environ["KVITT_JOB_LEASE_SECONDS"] = "1"
    os.environ["KVITT_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    statements = 0

    def before(*_: Any) -> None:
        nonlocal statements
        statements += 1
        if statements == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "before_cursor_execute", before)
    try:
        app(["jobs", "run"], prog_name="kvitt")
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def state(shop: Shop, request_id: int) -> tuple[str, int]:
    with shop.db.transaction() as session:
        request = session.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
        assert request is not None
        payments = session.scalars(select(Payment).where(Payment.tenant_id == shop.tenant_id)).all()
        return request.state, len(payments)


def wait_until_due(shop: Shop, *, expected: bool = True) -> None:
    """Every unfinished poll job is due, as ``claim_due`` reads it: a pending one's ``run_at``
    has passed (a poll is scheduled 2 s ahead), a running one's lease has ended (a killed child
    held it for 1 s). ``expected``: there must be one (the payment is not booked yet, so its
    poll is pending or running; the first one is committed just after Swish has the request);
    without, none is fine (once booked, the poll is done)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with shop.db.transaction() as session:
            jobs = session.execute(
                select(OutboxJob.state, OutboxJob.run_at, OutboxJob.locked_until).where(
                    OutboxJob.kind == "checkout.poll", OutboxJob.state.in_(("pending", "running"))
                )
            ).all()
        now = utcnow()
        waiting = [
            job
            for job in jobs
            if (job.state == "pending" and job.run_at > now)
            or (job.state == "running" and (job.locked_until is None or job.locked_until >= now))
        ]
        if (jobs or not expected) and not waiting:
            return
        time.sleep(0.05)
    raise AssertionError(f"no poll job came due in 30 s: {jobs}")


def test_a_worker_killed_while_booking_books_once_or_not_at_all(shop: Shop, tmp_path: Path, database_url: str) -> None:
    shop.swish.simulator.hold = True
    shop.swish.simulator.callbacks = False
    invoice = shop.issued_invoice()
    made = shop.api.post(
        f"/invoices/{invoice['id']}/payment-requests", json={"method": "swish", "payer_alias": "46701234567"}
    )
    request_id = made.json()["id"]
    reference = made.json()["provider_reference"]
    shop.drain(lambda: reference in shop.swish.simulator.requests)
    shop.swish.simulator.finish(reference)  # Swish: paid; Kvitt does not know yet

    killed: list[int] = []
    after_paid: list[int] = []
    asked = shop.swish.simulator.fetched.count(reference)
    for point in POINTS:
        wait_until_due(shop, expected=state(shop, request_id)[0] == "created")
        if not jobs_run_killed_at(point, tmp_path / "child.log", database_url):
            break
        killed.append(point)
        current, payments = state(shop, request_id)
        assert (current, payments) in (("created", 0), ("paid", 1)), f"killed at {point}: {current}, {payments}"
        if current == "created" and shop.swish.simulator.fetched.count(reference) > asked:
            after_paid.append(point)  # Swish had said "paid" to this child: killed before the commit
        asked = shop.swish.simulator.fetched.count(reference)
    print(f"killed before statements {killed}; after Swish said paid: {after_paid}")
    assert after_paid, "no kill fell between Swish's answer and the booking's commit"
    shop.drain(lambda: state(shop, request_id)[0] == "paid")
    assert state(shop, request_id) == ("paid", 1)
    ledger = shop.ledger()
    assert ledger["1930"] == invoice["total"] and ledger["1510"] == 0
    # And once more: nothing changes.
    wait_until_due(shop, expected=False)
    jobs_run_killed_at(0, tmp_path / "child.log", database_url)
    assert state(shop, request_id) == ("paid", 1) and shop.ledger() == ledger
