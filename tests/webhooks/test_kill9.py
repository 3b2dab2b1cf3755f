"""A webhook worker killed with SIGKILL mid-batch, then rerun: no webhook lost, duplicates only as
the documented at-least-once, with the same event id.

The worker runs in a subprocess (``tests/webhooks/kill_worker.py``) against two real HTTP
receivers: one takes an event per request, the other lists of up to 4. Each round is killed at a
seeded point: before its K-th SQL statement (in the fan-out, claiming, reading the deliveries,
recording the outcomes ...) or by the receiver when its R-th request arrives (mid-HTTP, before
the answer). After a kill the leases of the dead worker run out (set back, as time would), and
the next round takes its jobs over. A last run goes until idle. Then: every issued invoice's
event arrived at both endpoints, every copy of it with the same event id; one stored event per
domain event, one delivery per endpoint and event, succeeded, with exactly one attempt logged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import func, select, update

from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import DONE, RUNNING, OutboxJob
from kvitt.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from kvitt.webhooks.signing import verify
from tests.conftest import TENANT_A, make_tenant
from tests.webhooks.batching import issue_many
from tests.webhooks.receiver import Receiver, running
from tests.webhooks.test_batches import add_endpoint

ROUNDS = 4
PER_ROUND = 4  # invoices issued before each round, so that every round has a fan-out and sending
# A round's work is about 24 statements on PostgreSQL (COPY is not one) and 56 on SQLite: a kill
# before statement 1..20 falls in the claim, the fan-out, reading deliveries or recording them.
KILL_STATEMENTS = (1, 20)


def start_worker(database_url: str, kill_at_statement: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.webhooks.kill_worker", database_url, str(kill_at_statement)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVITT_")}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def leases_run_out(db: Database) -> None:
    """As if the dead worker's lease had passed: its running jobs are due again."""
    with db.transaction() as session:
        session.execute(update(OutboxJob).where(OutboxJob.state == RUNNING).values(locked_until=utcnow()))


def received_events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for request in receiver.requests:
        body = verify(request.body, request.headers["Kvitt-Signature"], secret)
        out += body["data"] if body.get("object") == "list" else [body]
    return out


@pytest.mark.parametrize("seed", [11, 2026])
def test_a_webhook_worker_killed_mid_batch_loses_nothing(db: Database, database_url: str, seed: int) -> None:
    rng = random.Random(seed)
    tenant_id, _ = make_tenant(db, **TENANT_A)
    child: list[subprocess.Popen[bytes] | None] = [None]
    kill_at_request = [0]

    def answer(n: int) -> tuple[int, bytes, float]:
        process = child[0]
        if n == kill_at_request[0] and process is not None:
            process.send_signal(signal.SIGKILL)  # mid-HTTP: the request arrived, no answer recorded
        return 200, b'{"ok":true}', 0.0

    with running(answer) as singles, running(answer) as lists:
        _, single_secret = add_endpoint(db, tenant_id, singles.url, ["invoice.issued"])
        _, list_secret = add_endpoint(db, tenant_id, lists.url, ["invoice.issued"], max_batch_size=4)
        invoice_ids: list[int] = []
        kills = 0
        rounds: list[str] = []
        for round_no in range(ROUNDS):
            invoice_ids += issue_many(db, tenant_id, PER_ROUND, first=round_no * PER_ROUND)
            if rng.random() < 0.5:
                kill_at_statement, kill_at_request[0] = rng.randint(*KILL_STATEMENTS), 0
            else:
                kill_at_statement = 0
                kill_at_request[0] = len(singles.requests) + rng.randint(1, PER_ROUND)
            process = start_worker(database_url, kill_at_statement)
            child[0] = process
            process.wait(timeout=120)
            child[0] = None
            point = f"statement {kill_at_statement}" if kill_at_statement else f"request {kill_at_request[0]}"
            kill_at_request[0] = 0
            rounds.append(f"{point}: {'killed' if process.returncode == -signal.SIGKILL else 'finished'}")
            if process.returncode == -signal.SIGKILL:
                kills += 1
                leases_run_out(db)
            else:
                assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
        last = start_worker(database_url, 0)
        out, err = last.communicate(timeout=120)
        assert last.returncode == 0, (out.decode(), err.decode())
    print(f"seed {seed}: " + "; ".join(rounds), f"; requests {len(singles.requests)} + {len(lists.requests)}")
    assert kills >= 2, "the seeded points missed the work"

    with db.transaction() as session:
        stored = {
            int(payload["data"]["object"]["id"]): public_id
            for public_id, payload in session.execute(select(WebhookEvent.public_id, WebhookEvent.payload))
        }
        deliveries = session.execute(select(WebhookDelivery.id, WebhookDelivery.state, WebhookDelivery.attempts)).all()
        attempts = dict(
            session.execute(
                select(WebhookAttempt.delivery_id, func.count(WebhookAttempt.id)).group_by(WebhookAttempt.delivery_id)
            ).all()
        )
        unfinished = session.scalar(select(func.count(OutboxJob.id)).where(OutboxJob.state != DONE))
    # One stored event per domain event, one delivery per endpoint and event, each sent once as
    # far as the log knows (a request cut by the kill was not logged, and was sent again).
    assert sorted(stored) == sorted(invoice_ids)
    assert len(deliveries) == 2 * len(invoice_ids) == 2 * ROUNDS * PER_ROUND
    assert {state for _, state, _ in deliveries} == {"succeeded"}
    assert all(count == 1 for _, _, count in deliveries)
    assert all(attempts.get(delivery_id) == 1 for delivery_id, _, _ in deliveries)
    assert unfinished == 0

    for receiver, secret in ((singles, single_secret), (lists, list_secret)):
        ids_per_invoice: dict[int, set[str]] = defaultdict(set)
        for event in received_events(receiver, secret):
            ids_per_invoice[int(event["data"]["object"]["id"])].add(event["id"])
        # Nothing lost: every invoice's event arrived; duplicates carry the event's one id.
        assert sorted(ids_per_invoice) == sorted(invoice_ids)
        assert all(ids == {stored[invoice_id]} for invoice_id, ids in ids_per_invoice.items())
