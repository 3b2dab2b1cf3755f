"""The worker writes the order file each banking day into KVITT_AUTOGIRO_OUTBOX_DIR."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kvitt.autogiro.jobs import EXPORT_JOB
from kvitt.core.config import Settings, get_settings
from kvitt.core.db import Database
from kvitt.core.outbox import enqueue
from kvitt.formats import autogiro as ag
from tests.autogiro.test_files import issued_invoice, with_active_mandates
from tests.conftest import Api
from tests.webhooks.helpers import run_worker


def export_day(db: Database, api: Api, day: str) -> None:
    with db.transaction() as session:
        enqueue(session, EXPORT_JOB, {"date": day}, tenant_id=api.tenant_id)


def test_the_worker_writes_each_due_order_once_on_banking_days(
    api: Api, db: Database, settings: Settings, cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = tmp_path / "to-bankgirot"
    outbox.mkdir()
    monkeypatch.setenv("KVITT_AUTOGIRO_OUTBOX_DIR", str(outbox))
    get_settings.cache_clear()
    (first, _) = with_active_mandates(db, api)
    made = issued_invoice(api, first, due="2099-09-30")  # a Wednesday

    export_day(db, api, "2099-09-26")  # a Saturday: no file on a day the banks are closed
    run_worker(db, settings)
    assert list(outbox.iterdir()) == []
    export_day(db, api, "2099-09-29")  # the banking day before the due date
    run_worker(db, settings)
    (written,) = outbox.iterdir()
    assert written.name == f"autogiro-{api.tenant_id}-20990929.txt"
    (section,) = ag.parse_orders(written.read_bytes())
    assert [(o.date, o.payer_number, o.amount) for o in section.orders if isinstance(o, ag.PaymentOrder)] == [
        (date(2099, 9, 30), "1001", made["total"])
    ]
    export_day(db, api, "2099-09-30")
    run_worker(db, settings)
    assert list(outbox.iterdir()) == [written]  # nothing is due twice
