"""Two imports at once that share an invoice_ref and customers invoice the ref once: imports
of one tenant are serialised (an advisory lock on PostgreSQL, the write lock on SQLite), so the
second sees what the first committed and skips it; the unique keys stay the last guard."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from kvitt.billing_files import service
from kvitt.core.db import Database
from kvitt.core.errors import Conflict
from kvitt.customers.models import Customer
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant
from tests.billing_files.test_import import GOOD
from tests.conftest import TENANT_A, make_tenant


def test_concurrent_files_sharing_a_ref_create_it_once(db: Database, tmp_path: Path) -> None:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(GOOD)
    second.write_text(GOOD + "1003,Cilla Holm,,,,,,,,F-3,2026-11-30,,,Tidning,1,120.00,6,\n")
    outcome: dict[str, object] = {}

    def run(path: Path, key: str) -> None:
        try:
            with db.transaction() as session:
                tenant = session.get(Tenant, tenant_id)
                assert tenant is not None
                done = service.import_billing_file(
                    session,
                    tenant,
                    path,
                    options=service.Options(issue=True),
                    filename=path.name,
                    source="api",
                    today=date(2026, 11, 30),
                    actor="test",
                )
                outcome[key] = (done.file.invoices, done.file.skipped)
        except Conflict as exc:
            outcome[key] = exc.code

    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        service.import_billing_file(
            session,
            tenant,
            first,
            options=service.Options(issue=True),
            filename="first.csv",
            source="api",
            today=date(2026, 11, 30),
            actor="test",
        )
        # The second import starts while the first is not committed and waits for it.
        other = threading.Thread(target=run, args=(second, "second"))
        other.start()
        other.join(timeout=1)
    other.join(timeout=60)
    assert not other.is_alive()
    assert outcome["second"] == (1, 2)  # F-3 created, F-1 and F-2 skipped
    with db.transaction() as session:
        refs = sorted(i.metadata_["invoice_ref"] for i in session.scalars(select(Invoice)))
        assert refs == ["F-1", "F-2", "F-3"]
        assert session.scalar(select(func.count(Customer.id))) == 3
