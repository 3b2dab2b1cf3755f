"""The back office in a real browser (issue 15): Chromium logs in, walks every page of the
navigation at desktop and phone width (axe-core finds no serious or critical violation on any),
resolves a deviation in one click, answers a customer's message and sees the answer on the web
invoice, credits an invoice. Screenshots of every page go to docs/screenshots/admin-*.png
(the Översikt dashboard's own screenshots are taken by the KPI tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from kvitt.admin.nav import NAV
from kvitt.core.db import Database
from tests.admin.conftest import PASSWORD, make_customer, make_issued, make_staff
from tests.conftest import Api
from tests.web.helpers import post_form, token_of

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
AXE = Axe()
EMAIL = "ekonomi@norrsken.test"


def serious_violations(page: Page) -> list[dict[str, Any]]:
    results = AXE.run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def world(api: Api, client: TestClient, db: Database, tenant_a: tuple[int, str]) -> dict[str, Any]:
    """A finance team's morning: a question, an unmatched payment, an invoice to credit."""
    make_staff(db, tenant_a[0], EMAIL, "admin")
    asked = make_issued(api, make_customer(api, "K-1", name="Astrid Lindqvist")["id"])
    assert post_form(client, asked, "messages", {"text": "Varför är surfen dyrare i mars?"}).status_code == 303
    unmatched = make_issued(api, make_customer(api, "K-2", name="Bertil Ek")["id"], unit_price=24900)
    assert api.post("/payments", {"amount": unmatched["total"], "payer_name": "Bertil Ek"}).status_code == 201
    wrong = make_issued(api, make_customer(api, "K-3", name="Cecilia Holm")["id"], unit_price=99900)
    return {"asked": asked, "unmatched": unmatched, "wrong": wrong}


def log_in(browser: Browser, base_url: str, size: str) -> Page:
    context = browser.new_context(viewport=SIZES[size], locale="sv-SE", base_url=base_url)
    page = context.new_page()
    page.goto("/admin/kunder")
    expect(page.locator("h1")).to_have_text("Logga in")
    assert serious_violations(page) == []
    page.get_by_label("E-postadress").fill(EMAIL)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.locator("h1")).to_have_text("Kunder")  # back where the login began
    return page


def staff_at(browser: Browser, base_url: str, email: str, path: str, heading: str) -> Page:
    """A staff member's desktop browser sent to ``path``: the login form it is sent to filled in,
    and back at ``path``, whose ``h1`` reads ``heading``."""
    context = browser.new_context(viewport=SIZES["desktop"], locale="sv-SE", base_url=base_url)
    page = context.new_page()
    page.goto(path)
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.locator("h1")).to_have_text(heading)
    return page


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_page_at_both_widths_without_serious_violations(
    browser: Browser, base_url: str, world: dict[str, Any], size: str
) -> None:
    page = log_in(browser, base_url, size)
    problems = {}
    for item in NAV:
        page.goto(item.path)
        expect(page.locator("h1").first).to_be_visible()
        if item.key != "overview":
            expect(page.locator("h1").first).to_contain_text(item.label)
            page.screenshot(path=str(SCREENSHOTS / f"admin-{item.key}-{size}.png"), full_page=size == "desktop")
        found = serious_violations(page)
        if found:
            problems[item.path] = found
    extra = (
        f"/admin/kunder/{world['asked']['customer']}",
        "/admin/tvastegs",
        "/admin/handelsekedjor/ny",
        "/admin/profil",
        "/admin/engagemang/segment/ny",
        "/admin/engagemang/placering/ny?typ=offer",
        "/admin/engagemang/placering/ny?typ=survey",
        f"/admin/fakturor/{world['asked']['id']}",
    )
    for path in extra:
        page.goto(path)
        found = serious_violations(page)
        if found:
            problems[path] = found
    page.screenshot(path=str(SCREENSHOTS / f"admin-invoice-{size}.png"), full_page=size == "desktop")
    assert problems == {}
    page.context.close()


def test_the_phone_menu_opens_and_leads_to_a_page(browser: Browser, base_url: str, world: dict[str, Any]) -> None:
    page = log_in(browser, base_url, "phone")
    menu = page.locator("nav.admin-nav summary")
    expect(menu).to_be_visible()
    menu.click()
    page.locator("nav.admin-nav").get_by_role("link", name="Meddelanden").click()
    expect(page.locator("h1")).to_have_text("Meddelanden")
    page.context.close()


def test_a_finance_morning_deviation_message_and_credit(
    browser: Browser, base_url: str, world: dict[str, Any], api: Api
) -> None:
    page = log_in(browser, base_url, "desktop")

    # The unmatched payment: one click on the suggested invoice.
    page.goto("/admin/avvikelser")
    page.get_by_role("button", name=f"Matcha mot faktura {world['unmatched']['number']}").click()
    expect(page.get_by_role("status")).to_have_text("Avvikelsen är löst.")
    assert api.get(f"/invoices/{world['unmatched']['id']}").json()["state"] == "paid"
    assert serious_violations(page) == []

    # The question, answered in place; the customer sees the answer on the web invoice.
    page.goto("/admin/meddelanden?visa=obesvarade")
    expect(page.get_by_text("Varför är surfen dyrare i mars?")).to_be_visible()
    page.get_by_label("Svar till kunden").fill("Hej Astrid! Du köpte 2 GB extra surf den 14 mars.")
    page.get_by_role("button", name="Skicka svar").click()
    expect(page.get_by_role("status")).to_have_text("Svaret är skickat.")
    page.screenshot(path=str(SCREENSHOTS / "admin-messages-answered-desktop.png"), full_page=True)
    web = page.context.new_page()
    web.goto(f"/i/{token_of(world['asked'])}?tab=meddelanden")
    expect(web.get_by_text("Hej Astrid! Du köpte 2 GB extra surf den 14 mars.")).to_be_visible()
    web.close()

    # The wrong invoice, credited whole.
    page.goto(f"/admin/fakturor/{world['wrong']['id']}")
    page.get_by_label("Hela fakturan").check()
    page.get_by_label("Orsak", exact=True).fill("Fel pris")
    page.get_by_role("button", name="Kreditera").click()
    expect(page.get_by_role("status")).to_have_text("Fakturan är krediterad.")
    expect(page.locator("h1 .state")).to_have_text("Krediterad")
    assert api.get(f"/invoices/{world['wrong']['id']}").json()["state"] == "credited"
    assert serious_violations(page) == []

    # All three are in the audit log.
    page.goto("/admin/granskningslogg")
    for action in ("deviation.resolve", "message.answer", "invoice.credit"):
        expect(page.get_by_text(action, exact=True)).to_be_visible()
    page.context.close()
