"""A marketer's review in a real browser (issues 15 and 16): Chromium logs in as marketing, writes a
segment (previewed before it is saved) and an offer for it through the Engagemang forms; a
recipient in the segment sees the offer on the web invoice and clicks it; the marketer's report
then counts exactly that impression and that click. axe-core on every back-office page it
passes; a screenshot of the report goes to docs/screenshots/."""

from __future__ import annotations

from playwright.sync_api import Browser, Route, expect

from kvitt.core.db import Database
from tests.admin.conftest import make_customer, make_issued, make_staff
from tests.conftest import Api
from tests.e2e.test_admin import SCREENSHOTS, SIZES, serious_violations, staff_at
from tests.web.helpers import token_of

EMAIL = "marknad@norrsken.test"
TARGET = "https://offers.example/fri"


def test_a_marketer_writes_a_segment_and_an_offer_and_reads_its_click(
    browser: Browser, base_url: str, api: Api, db: Database, tenant_a: tuple[int, str]
) -> None:
    make_staff(db, tenant_a[0], EMAIL, "marketing")
    inside = make_customer(api, "M-1", attributes={"plan": "Medium"})
    make_customer(api, "M-2", name="Bertil Ek", attributes={"plan": "Bas"})
    invoice = make_issued(api, inside["id"])

    page = staff_at(browser, base_url, EMAIL, "/admin/engagemang", "Engagemang")
    context = page.context
    context.route("https://offers.example/**", lambda route: _offer_site(route))
    problems = {"/admin/engagemang": serious_violations(page)}

    page.get_by_role("link", name="Nytt segment").click()
    page.get_by_label("Namn").fill("Medium")
    page.get_by_label("Villkor, ett per rad").fill("attributes.plan eq Medium")
    page.get_by_role("button", name="Förhandsvisa").click()
    expect(page.get_by_role("status")).to_contain_text("Med de här villkoren: 1 kunder, t.ex. Astrid Lindqvist")
    problems["segment preview"] = serious_violations(page)
    page.get_by_role("button", name="Skapa segmentet").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    expect(page.locator("main")).to_contain_text("Kunder i segmentet: 1")

    page.goto("/admin/engagemang")
    page.get_by_role("link", name="Ny: Erbjudande").click()
    page.get_by_label("Rubrik", exact=True).fill("Uppgradera till Mobil Fri")
    page.get_by_label("Länk (https)").fill(TARGET)
    page.get_by_label("Knappens text", exact=True).fill("Uppgradera nu")
    page.get_by_label("Medium").check()
    problems["placement form"] = serious_violations(page)
    page.get_by_role("button", name="Skapa placeringen").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")

    # The recipient, in another browser: sees the offer and clicks it.
    recipient = browser.new_context(viewport=SIZES["phone"], locale="sv-SE", base_url=base_url)
    recipient.route("https://offers.example/**", lambda route: _offer_site(route))
    view = recipient.new_page()
    view.goto(f"/i/{token_of(invoice)}")
    view.locator("#erbjudanden").get_by_role("link", name="Uppgradera nu").click()
    view.wait_for_url(TARGET)
    recipient.close()

    page.goto("/admin/engagemang")
    expect(page.locator("main")).to_contain_text("Visningar: 1 · Klick: 1 · Klickfrekvens: 100,0 %")
    row = page.locator("tr", has=page.get_by_role("link", name="Uppgradera till Mobil Fri")).first
    expect(row).to_contain_text("Medium")
    problems["report"] = serious_violations(page)
    page.screenshot(path=str(SCREENSHOTS / "admin-engagement-report-desktop.png"), full_page=True)
    assert {where: found for where, found in problems.items() if found} == {}
    context.close()


def _offer_site(route: Route) -> None:
    route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Fri</title><h1>Mobil Fri</h1>")
