"""The back office's writing forms in a real browser, without any script of ours needed: an admin
writes an event-chain rule, creates a dunning policy and imports a billing file by the page's own
forms (a file field, textareas, selects), sees each result, and axe-core finds no serious or
critical violation on the pages with their forms and answers. Screenshots for docs/admin.md."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from kvitt.core.db import Database
from tests.admin.conftest import PASSWORD, make_staff
from tests.billing_files.test_import import GOOD
from tests.conftest import Api
from tests.e2e.test_admin import SCREENSHOTS, serious_violations

EMAIL = "chef@norrsken.test"


def write_rule(page: Page, actions: str) -> None:
    page.get_by_label("Namn").fill("Stora fakturor")
    page.get_by_label("När händelsen är").select_option("invoice.issued")
    page.get_by_label("Villkor, en per rad (alla ska gälla)").fill("invoice.total gt 100000")
    page.get_by_label("Åtgärder, en per rad").fill(actions)
    page.get_by_role("button", name="Skapa regeln").click()


def test_an_admin_writes_a_rule_a_policy_and_imports_a_file(
    browser: Browser, base_url: str, api: Api, db: Database, tenant_a: tuple[int, str], tmp_path: Path
) -> None:
    make_staff(db, tenant_a[0], EMAIL, "admin")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE", base_url=base_url)
    page = context.new_page()
    page.goto("/admin/handelsekedjor/ny")
    page.get_by_label("E-postadress").fill(EMAIL)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.locator("h1")).to_have_text("Ny regel")
    assert serious_violations(page) == []

    write_rule(page, "add_tag stor\nsend pigeon")
    expect(page.get_by_text("actions, line 2:", exact=False)).to_be_visible()  # refused, naming the line
    assert serious_violations(page) == []
    page.goto("/admin/handelsekedjor/ny")
    write_rule(page, "add_tag stor\nsend sms")
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    (rule,) = api.get("/automation-rules").json()["data"]
    assert rule["actions"] == [{"type": "add_tag", "tag": "stor"}, {"type": "send", "channel": "sms"}]
    page.screenshot(path=str(SCREENSHOTS / "admin-automation-rule-desktop.png"), full_page=True)

    page.goto("/admin/paminnelser#ny-policy")
    assert serious_violations(page) == []
    new = page.locator('form[action="/admin/paminnelser/policyer"]')
    new.get_by_label("Namn").fill("Företag")
    new.get_by_label("Gäller kunder där").fill("attributes.kundtyp eq foretag")
    new.get_by_label("Dagar 1").fill("7")
    new.get_by_label("Avgift (kr) 1").fill("60")
    new.get_by_role("button", name="Skapa policyn").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    made = [p for p in api.get("/dunning-policies").json()["data"] if p["name"] == "Företag"]
    assert made and made[0]["steps"][0]["fee"] == 6000

    billing_file = tmp_path / "november.csv"
    billing_file.write_text(GOOD, encoding="utf-8")
    page.goto("/admin/fakturering")
    assert serious_violations(page) == []
    page.get_by_label("Fil (CSV eller JSON Lines)").set_input_files(str(billing_file))
    page.get_by_role("button", name="Läs in filen").click()
    expect(page.get_by_role("status")).to_have_text("Filen är inläst.")
    expect(page.get_by_role("cell", name="november.csv")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "admin-billing-import-desktop.png"), full_page=True)
    context.close()
