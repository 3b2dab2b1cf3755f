"""*Översikt* at ``/admin``: the KPI figures of the API on the page, per role, per tenant, sv/en."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kvitt.admin import dashboard
from kvitt.admin.auth import ALL_ROLES
from kvitt.core import clock
from kvitt.core.db import Database
from kvitt.reports import kpis
from tests.admin.conftest import Staff, make_staff
from tests.conftest import Api
from tests.reports.test_kpis import TODAY, drain, make_life

TEMPLATE = Path(dashboard.__file__).parent / "templates" / "admin" / "dashboard.html"


@pytest.fixture
def history(api: Api, db: Database, monkeypatch: pytest.MonkeyPatch, mailbox: Any, delivery_env: Any) -> None:
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    body = {"customer_no": "1", "name": "Astrid", "email": "a@example.se", "delivery_method": "email"}
    email = api.post("/customers", body).json()["id"]
    body = {"customer_no": "2", "name": "Nils", "address_line1": "Storgatan 1", "postal_code": "11122",
            "city": "Stockholm", "delivery_method": "letter"}  # fmt: skip
    letter = api.post("/customers", body).json()["id"]
    make_life(db, api.tenant_id, email, (0, 245, 30, 1234, [(20, 100, "bankgiro:1")], True, "none"))
    make_life(db, api.tenant_id, letter, (2, 246, 14, 800, [(10, 100, "bankgiro:3")], False, "none"))
    make_life(db, api.tenant_id, letter, (2, 200, 14, 500, [], False, "none"))
    drain(db)


def login(app: Any, db: Database, tenant_id: int, role: str) -> Staff:
    email = f"{role}@kpi.test"
    make_staff(db, tenant_id, email, role)
    staff = Staff(app, email)
    assert staff.login_response.status_code == 303, staff.login_response.text
    return staff


def test_the_page_shows_the_apis_figures(app: Any, api: Api, db: Database, history: None) -> None:
    staff = login(app, db, api.tenant_id, "read_only")
    page = staff.get("/admin?to=2026-09-30")
    assert page.status_code == 200, page.text
    html = page.text
    body = api.get("/reports/kpis", params={"from": "2026-09-01", "to": "2026-09-30"}).json()
    assert body["invoices_issued"] == 2
    # The month's money as the back office formats it, and the shares and DSO of the API.
    assert "1\u00a0234,00\u00a0kr" in html or "1 234,00 kr" in html.replace("\u00a0", " ")
    with db.transaction() as session:
        from kvitt.tenants.models import Tenant

        k = kpis.kpis(session, session.get_one(Tenant, api.tenant_id), date(2026, 9, 1), date(2026, 9, 30))
    numbers = dashboard.Numbers("sv")
    assert numbers.percent(k.digital_send_share) in html
    assert numbers.days(k.dso_days) in html
    assert html.count("<svg") == 6 and "<title>" in html
    assert 'href="/admin/oversikt/aging.csv?to=2026-09-30"' in html
    # The 12 months of the trend, ending with September.
    assert "2025-10" in html and "2026-09" in html and "2025-09" not in html


def test_every_role_may_read_it_and_nobody_without_a_session(app: Any, api: Api, db: Database) -> None:
    for role in ALL_ROLES:
        assert login(app, db, api.tenant_id, role).get("/admin").status_code == 200, role
    anonymous = Staff(app, "nobody@kpi.test", "wrong")
    response = anonymous.get("/admin")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["location"]
    assert anonymous.get("/admin/oversikt/paid.csv").status_code in (302, 303)


def test_english(app: Any, api: Api, db: Database, history: None) -> None:
    staff = login(app, db, api.tenant_id, "finance")
    html = staff.get("/admin?to=2026-09-30&lang=en").text
    assert "<h1>Overview</h1>" in html and "Paid before the due date per channel" in html
    assert "Översikt</h1>" not in html


def test_every_text_of_the_page_has_its_english() -> None:
    found = set(re.findall(r't\("([^"]+)"\)', TEMPLATE.read_text(encoding="utf-8")))
    found |= set(dashboard.GROUP_LABELS.values()) | set(dashboard.CHANNEL_LABELS.values())
    found |= set(dashboard.METHOD_LABELS.values()) | set(dashboard.BUCKET_LABELS.values())
    assert sorted(text for text in found if text not in dashboard.EN) == []


def test_csv_of_a_figure_is_the_apis_rows_per_month(app: Any, api: Api, db: Database, history: None) -> None:
    staff = login(app, db, api.tenant_id, "marketing")
    response = staff.get("/admin/oversikt/invoiced.csv?to=2026-09-30")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["from"] for r in rows][-1] == "2026-09-01" and len(rows) == 12
    for row in rows:
        api_row = api.get("/reports/kpis", params={"from": row["from"], "to": row["to"]}).json()
        assert row["value"] == str(api_row["invoiced"])
    assert staff.get("/admin/oversikt/nonsense.csv").status_code == 404


def test_another_tenants_figures_never_appear(app: Any, api: Api, api_b: Api, db: Database, history: None) -> None:
    theirs = login(app, db, api_b.tenant_id, "admin")
    html = theirs.get("/admin?to=2026-09-30").text
    assert "1\u00a0234,00" not in html and "1 234,00" not in html
    response = theirs.get("/admin/oversikt/invoiced.csv?to=2026-09-30")
    assert {r["value"] for r in csv.DictReader(io.StringIO(response.text))} == {"0"}
