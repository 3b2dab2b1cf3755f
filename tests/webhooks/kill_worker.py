"""A worker for the webhook kill -9 test: runs the queue until idle, or SIGKILLs itself just
before its K-th SQL statement (``python -m tests.webhooks.kill_worker URL K``; K = 0 never).

Only the webhook fan-out is left subscribed to domain events: the test is about webhooks, and
the other subscribers (delivery by email, SMS ...) need their own servers.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from kvitt.core import events
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.webhooks import jobs as webhook_jobs
from kvitt.worker import Worker


def main() -> None:
    url, kill_at = sys.argv[1], int(sys.argv[2])
    statements = 0

    def before(*_: Any) -> None:
        nonlocal statements
        statements += 1
        if statements == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup: the transaction is cut where it stands

    event.listen(Engine, "before_cursor_execute", before)
    db = Database(url)
    worker = Worker(db, Settings(database_url=url, embedded_worker=False), worker_id=f"kill9:{os.getpid()}")
    events._subscribers[:] = [(p, s) for p, s in events._subscribers if s is webhook_jobs.fan_out]
    worker.run_until_idle(max_rounds=1000)
    print(f"idle after {statements} statements")


if __name__ == "__main__":
    main()
