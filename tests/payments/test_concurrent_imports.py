"""Two different files that report the same payment, imported at the same time, apply it once."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from kvitt.core.db import Database
from kvitt.ledger import service as ledger
from kvitt.payments.imports import import_bgmax
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.payments.test_bgmax_import import a_file, issued


def test_concurrent_imports_never_double_apply_a_payment(api: Api, db: Database) -> None:
    invoices = [issued(api, 10000 + n) for n in range(6)]
    shared = (invoices[0]["total"], invoices[0]["ocr"], "000000000100")
    files = [
        a_file(
            "5050-1055",
            [shared, *[(inv["total"], inv["ocr"], f"00000000020{i}") for i, inv in enumerate(invoices[1:3])]],
        ),
        a_file(
            "5050-1055",
            [shared, *[(inv["total"], inv["ocr"], f"00000000030{i}") for i, inv in enumerate(invoices[3:])]],
        ),
    ]
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def run(data: bytes) -> None:
        try:
            barrier.wait()
            with db.transaction() as session:
                tenant = session.get(Tenant, api.tenant_id)
                assert tenant is not None
                file = import_bgmax(
                    session, tenant, data, filename=None, source="test", today=date(2026, 11, 25), actor="t"
                ).file
                outcomes.append((file.payments, file.duplicates))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(data,)) for data in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # Whichever went first took the shared payment; the other skipped it as already received.
    assert sorted(outcomes) in ([(2, 1), (4, 0)], [(3, 0), (3, 1)])
    first = api.get(f"/invoices/{invoices[0]['id']}").json()
    assert (first["state"], first["paid"]) == ("paid", first["total"])
    assert all(api.get(f"/invoices/{inv['id']}").json()["state"] == "paid" for inv in invoices)
    assert api.get("/deviations").json()["data"] == []
    with db.transaction() as session:
        tenant = session.get(Tenant, api.tenant_id)
        assert tenant is not None
        assert ledger.account_balances(session, tenant.id)["1930"] == sum(inv["total"] for inv in invoices)
