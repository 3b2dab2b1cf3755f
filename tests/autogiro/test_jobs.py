"""The worker writes the order file each banking day into KVITT_AUTOGIRO_OUTBOX_DIR."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from kvitt.autogiro import files, service
from kvitt.autogiro.jobs import EXPORT_JOB, read_inbox
from kvitt.autogiro.models import Mandate
from kvitt.core.config import Settings, get_settings
from kvitt.core.db import Database
from kvitt.core.outbox import enqueue
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.formats import autogiro as ag
from kvitt.payments.inbox import read_inbox as read_payments_inbox
from kvitt.payments.models import PaymentFile
from kvitt.tenants.models import Tenant
from tests.autogiro.test_files import BGC, advice, issued_invoice, with_active_mandates
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


def test_the_inbox_reads_bankgirots_autogiro_files_once(
    api: Api, db: Database, settings: Settings, tmp_path: Path
) -> None:

    with db.transaction() as session:
        tenant = session.get(Tenant, api.tenant_id)
        assert tenant is not None
        service.update_settings(session, tenant, bgc_customer_number=BGC)
        customer = customers.create(
            session,
            tenant,
            CustomerCreate(customer_no="1001", name="K", email="k@example.se", id_number="19121212-1212"),
        )
        service.create_mandate(session, tenant, customer.id, clearing="5001", account="1")
        files.export_orders(session, tenant, day=date(2026, 3, 2), name="m.txt")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "medavi.txt").write_bytes(advice(("1001", "04", "32")))
    (inbox / "other-bankgiro.txt").write_bytes(
        ag.write_mandate_advice(ag.MandateAdvice(date(2026, 3, 4), BGC, "9912346", ()))
    )
    with db.transaction() as session:
        outcomes = read_inbox(session, inbox, today=date(2026, 3, 5))
    assert outcomes == {"medavi.txt": "imported", "other-bankgiro.txt": "unknown_payee"}
    with db.transaction() as session:
        assert [m.status for m in session.scalars(select(Mandate))] == ["active"]
        assert read_inbox(session, inbox, today=date(2026, 3, 5)) == {"other-bankgiro.txt": "unknown_payee"}
        # The payments inbox leaves Bankgirot's autogiro files alone (no rejected BGMax file).

        assert read_payments_inbox(session, inbox, today=date(2026, 3, 5)) == []
        assert session.scalars(select(PaymentFile)).all() == []
