"""Fakturering: finance starts a billing run and imports a billing file from the page, through the
services the API and the command line use; the run's progress and result and the file's result
show in the page's tables; a bad file is refused whole with every error's line and field, and
nothing is imported; the same file again changes nothing; other roles, forms without the session's
CSRF token and another tenant's staff are refused or see nothing; each start is audited."""

from __future__ import annotations

from datetime import date
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select

from kvitt.admin.models import AuditEntry
from kvitt.billing.seed import seed_subscriptions
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.invoices.models import Invoice
from tests.admin.conftest import Staff
from tests.billing_files.test_import import GOOD, HEADER
from tests.webhooks.helpers import run_worker


def send_file(staff: Staff, body: str, *, csrf: str | None = None, **fields: str) -> Any:
    token = staff.csrf() if csrf is None else csrf
    files = {"file": ("november.csv", body.encode(), "text/csv")}
    return staff.client.post("/admin/fakturering/fil", data={"csrf": token, **fields}, files=files)


def invoices(db: Database, tenant_id: int) -> int:
    with db.read() as session:
        return session.scalar(select(func.count(Invoice.id)).where(Invoice.tenant_id == tenant_id)) or 0


def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_finance_starts_a_run_and_sees_its_result(
    staff_factory: Any, api: Any, db: Database, settings: Settings, tenant_a: tuple[int, str]
) -> None:
    with db.transaction() as session:
        seed_subscriptions(session, tenant_a[0], 3, start=date(2026, 1, 1))
    finance = staff_factory("finance")
    answer = finance.post("/admin/fakturering/korning", {"date": "2026-02-01"})
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=run_started"), answer.text
    (run,) = api.get("/billing-runs").json()["data"]
    assert (run["date"], run["state"], run["subscriptions_due"]) == ("2026-02-01", "running", 3)
    waiting = finance.get("/admin/fakturering").text.split("Faktureringsfiler", 1)[0]
    parts = run["partitions"]  # as the API's: 1 on SQLite, 4 on PostgreSQL
    assert "2026-02-01" in waiting and "running" in waiting and f"<td>0/{parts}</td>" in waiting
    run_worker(db, settings)
    (run,) = api.get("/billing-runs").json()["data"]
    # Three monthly subscriptions from 2026-01-01, billed up to 2026-02-01: January and February each.
    assert run["state"] == "done" and run["invoices"] == 6 == invoices(db, tenant_a[0])
    done = finance.get("/admin/fakturering").text.split("Faktureringsfiler", 1)[0]
    assert f"<td>{parts}/{parts}</td>" in done and "done" in done
    (row,) = audit_rows(db, "billing.run_start")
    assert row.target == f"billing_run:{run['id']}" and row.after == {"date": "2026-02-01", "subscriptions_due": 3}
    assert finance.post("/admin/fakturering/korning", {"date": "2026-02-30"}).status_code == 422


def test_finance_imports_a_file_once(staff_factory: Any, api: Any, db: Database, tenant_a: tuple[int, str]) -> None:
    finance = staff_factory("finance")
    answer = send_file(finance, GOOD, upsert="1", issue="1", mapping="canonical")
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=file_imported"), answer.text
    (imported,) = api.get("/billing-files").json()["data"]
    assert (imported["filename"], imported["source"], imported["invoices"]) == ("november.csv", "admin", 2)
    assert invoices(db, tenant_a[0]) == 2
    assert all(i["state"] != "draft" for i in api.get("/invoices").json()["data"])
    page = finance.get("/admin/fakturering?done=file_imported").text
    assert "Filen är inläst." in page and "november.csv" in page.split("Faktureringsfiler", 1)[1]
    again = send_file(finance, GOOD, upsert="1", issue="1")
    assert again.headers["location"].endswith("done=already_imported") and invoices(db, tenant_a[0]) == 2
    (row,) = audit_rows(db, "billing.file_import")
    assert row.target == f"billing_file:{imported['id']}" and row.after is not None and row.after["invoices"] == 2


def test_a_bad_file_is_refused_whole_with_each_error_by_line_and_field(
    staff_factory: Any, api: Any, db: Database, tenant_a: tuple[int, str]
) -> None:
    lines = GOOD.splitlines()
    bad = "\n".join([lines[0], lines[1].replace(",25,", ",24,", 1), lines[2], lines[3].replace("120.00", "abc")])
    refused = send_file(staff_factory("finance"), bad + "\n", upsert="1")
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "the file was not imported: line 2, vat_rate" in text
    assert '<td>2</td><td class="mono">vat_rate</td>' in text and '<td>4</td><td class="mono">unit_price</td>' in text
    assert invoices(db, tenant_a[0]) == 0 and api.get("/customers").json()["data"] == []
    assert audit_rows(db, "billing.file_import") == []
    assert send_file(staff_factory("admin"), "", upsert="1").status_code == 422  # an empty file
    assert send_file(staff_factory("admin", email="a2@norrsken.test"), HEADER, mapping="../x").status_code == 422


@pytest.mark.parametrize("role", ["support", "marketing", "read_only"])
def test_other_roles_are_refused(staff_factory: Any, api: Any, db: Database, role: str) -> None:
    staff = staff_factory(role)
    assert staff.post("/admin/fakturering/korning", {"date": "2026-02-01"}).status_code == 403
    assert send_file(staff, GOOD, upsert="1").status_code == 403
    assert api.get("/billing-runs").json()["data"] == [] and api.get("/billing-files").json()["data"] == []
    if role == "read_only":  # the page, without the forms
        page = staff.get("/admin/fakturering").text
        assert "Faktureringskörningar" in page and 'action="/admin/fakturering/fil"' not in page


def test_a_form_without_the_sessions_csrf_token_is_refused(admin: Staff, staff_factory: Any, api: Any) -> None:
    other = staff_factory("read_only")
    for token in ("", other.csrf()):
        assert admin.post("/admin/fakturering/korning", {"date": "2026-02-01"}, csrf=token).status_code == 403
        assert send_file(admin, GOOD, csrf=token, upsert="1").status_code == 403
    assert api.get("/billing-runs").json()["data"] == [] and api.get("/billing-files").json()["data"] == []


def test_another_tenants_runs_and_files_are_not_shown_or_billed(
    admin: Staff, staff_factory: Any, api: Any, api_b: Any, db: Database, tenant_a: Any, tenant_b: Any
) -> None:
    with db.transaction() as session:
        seed_subscriptions(session, tenant_a[0], 2, start=date(2026, 1, 1))
    assert send_file(admin, GOOD, upsert="1").status_code == 303
    theirs = staff_factory("admin", email="chef@fjallstrom.test", tenant_id=tenant_b[0])
    assert theirs.post("/admin/fakturering/korning", {"date": "2026-02-01"}).status_code == 303
    (their_run,) = api_b.get("/billing-runs").json()["data"]
    assert their_run["subscriptions_due"] == 0  # tenant A's subscriptions are not theirs to bill
    assert api.get("/billing-runs").json()["data"] == []
    assert "november.csv" not in theirs.get("/admin/fakturering").text
