"""Översikt in Chromium: a finance person logs in and reads nine months of history at desktop and
phone width; the charts are there, the figures are the API's, axe-core finds no serious or
critical violation, and the screenshots go to docs/screenshots/ (the README shows one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from kvitt.admin.dashboard import Numbers
from kvitt.core import clock
from kvitt.core.db import Database
from kvitt.reports.kpis import Ratio
from tests.admin.conftest import PASSWORD, make_staff
from tests.conftest import Api
from tests.loopback import Mailbox
from tests.reports.test_kpis import TODAY, drain, make_life

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
AXE = Axe()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    results = AXE.run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def customer(api: Api, no: str, method: str, email: str | None = None) -> int:
    body = {"customer_no": no, "name": f"Kund {no}", "address_line1": "Storgatan 1", "postal_code": "11122",
            "city": "Stockholm", "delivery_method": method}  # fmt: skip
    if email:
        body["email"] = email
    response = api.post("/customers", body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def nine_months(api: Api, db: Database, monkeypatch: pytest.MonkeyPatch, mailbox: Mailbox, delivery_env: Any) -> None:
    """Nine months of a small issuer: four email customers (one address bounces), two by letter."""
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    mailbox.refuse["studsar@example.se"] = "550 5.1.1 no such user"
    people = [customer(api, f"E{i}", "email", f"kund{i}@example.se") for i in range(3)]
    people += [customer(api, "E9", "email", "studsar@example.se")]
    people += [customer(api, f"L{i}", "letter") for i in range(2)]
    methods = ("bankgiro:1", "bankgiro:1", "bankgiro:4", "bankgiro:1", "bankgiro:3", "manual")
    for month in range(9):
        for i, person in enumerate(people):
            letter = i >= 4
            day = 31 * month + 2 + i
            offset = 20 + (month * 7 + i * 5) % 25 + (8 if letter else 0)
            pays = [] if (month + i) % 7 == 3 or day + offset > 270 else [(offset, 100, methods[i])]
            ending = "write_off" if (month, i) == (1, 5) else "none"
            life = (0, day, 30, 300 + 50 * i + 20 * month, pays, (month + i) % 5 == 0, ending)
            make_life(db, api.tenant_id, person, life)
    drain(db)


@pytest.mark.parametrize("size", list(SIZES))
def test_finance_reads_the_overview(
    browser: Browser, base_url: str, api: Api, db: Database, nine_months: None, size: str
) -> None:
    make_staff(db, api.tenant_id, "ekonomi@norrsken.test", "finance")
    context = browser.new_context(viewport=SIZES[size], locale="sv-SE")  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{base_url}/admin/login")
    page.fill("input[name=email]", "ekonomi@norrsken.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/admin")
    page.goto(f"{base_url}/admin?to={TODAY.isoformat()}")
    assert page.locator("h1").inner_text() == "Översikt"
    assert page.locator("svg.chart").count() == 6
    kpis = api.get("/reports/kpis", params={"from": "2026-09-01", "to": TODAY.isoformat()}).json()
    share = kpis["digital_send_share"]
    shown = Numbers("sv").percent(Ratio(share["numerator"], share["denominator"]))
    assert shown in page.locator("#h-digital").locator("..").inner_text()
    assert serious_violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"admin-overview-{size}.png"), full_page=size == "desktop")
    context.close()
