"""Inställningar in a real browser: an admin changes the company's address and phone on the
settings page, and the customer's web invoice shows them (the page reads the tenant's row as the
tenant service left it); axe-core finds no serious or critical violation on the page."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import Browser, expect

from kvitt.core.db import Database
from tests.admin.conftest import PASSWORD, make_customer, make_issued, make_staff
from tests.conftest import Api
from tests.e2e.test_admin import SCREENSHOTS, serious_violations, staff_at
from tests.web.helpers import token_of

EMAIL = "chef@norrsken.test"


def test_an_admin_edits_the_address_and_the_web_invoice_shows_it(
    browser: Browser, base_url: str, api: Api, db: Database, tenant_a: tuple[int, str]
) -> None:
    make_staff(db, tenant_a[0], EMAIL, "admin")
    invoice = make_issued(api, make_customer(api, "K-1", name="Astrid Lindqvist")["id"])
    page = staff_at(browser, base_url, EMAIL, "/admin/installningar", "Inställningar")
    context = page.context
    assert serious_violations(page) == []

    page.get_by_label("Adress", exact=True).fill("Norrskensvägen 7")
    page.get_by_label("Postnummer").fill("981 38")
    page.get_by_label("Ort", exact=True).fill("Kiruna")
    page.get_by_label("Telefon", exact=True).fill("0980-123 45")
    page.get_by_role("button", name="Spara uppgifterna").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    expect(page.get_by_label("Ort", exact=True)).to_have_value("Kiruna")

    web = context.new_page()
    web.goto(f"/i/{token_of(invoice)}")
    expect(web.get_by_text("Norrskensvägen 7, 981 38 Kiruna", exact=False)).to_be_visible()
    expect(web.locator('a[href^="tel:+46980"]')).to_be_visible()

    # A reminder fee above the legal cap is refused, naming the law.
    page.goto("/admin/installningar")
    page.get_by_label("Påminnelseavgift (kr)").fill("75")
    page.get_by_role("button", name="Spara avgifterna").click()
    expect(page.get_by_text("1981:739", exact=False)).to_be_visible()
    assert api.get("/tenant").json()["reminder_fee"] == 0
    context.close()


def test_an_admin_brands_the_invoice_and_the_customer_sees_the_logo_and_colour(
    browser: Browser, base_url: str, api: Api, db: Database, tenant_a: tuple[int, str], tmp_path: Path
) -> None:
    """Upload a logo through the file field, set a colour, refuse a pale one; the web invoice
    loads the logo (its pixels arrive: naturalWidth) and paints its pay button in the colour,
    under the page's CSP; axe-core on both pages; screenshots for docs/admin.md."""
    make_staff(db, tenant_a[0], EMAIL, "admin")
    invoice = make_issued(api, make_customer(api, "K-1", name="Astrid Lindqvist")["id"])
    logo = tmp_path / "logo.png"
    drawn = Image.new("RGB", (240, 64), (91, 42, 134))
    ImageDraw.Draw(drawn).text((16, 18), "NORRSKEN", fill=(255, 255, 255), font_size=26)
    drawn.save(logo, "PNG")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE", base_url=base_url)
    refused_by_csp: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: refused_by_csp.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto("/admin/installningar")
    page.get_by_label("E-postadress").fill(EMAIL)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.locator("h1")).to_have_text("Inställningar")

    page.get_by_label("Ny logotyp (PNG eller JPEG)").set_input_files(str(logo))
    page.get_by_role("button", name="Ladda upp logotypen").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    expect(page.get_by_alt_text("Nuvarande logotyp")).to_be_visible()
    page.get_by_label("Färg på knappar och länkar (#rrggbb)").fill("#ffcc00")
    page.get_by_role("button", name="Spara färgen").click()
    expect(page.get_by_text("4.5:1", exact=False)).to_be_visible()  # refused: white text unreadable
    page.goto("/admin/installningar#varumarke")
    page.get_by_label("Färg på knappar och länkar (#rrggbb)").fill("#5b2a86")
    page.get_by_role("button", name="Spara färgen").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    assert serious_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "admin-settings-branding-desktop.png"), full_page=True)

    web = context.new_page()
    web.on("console", lambda m: refused_by_csp.append(m.text) if "Content Security Policy" in m.text else None)
    web.goto(f"/i/{token_of(invoice)}")
    logo_image = web.locator("img.issuer-logo")
    expect(logo_image).to_be_visible()
    assert logo_image.evaluate("img => img.complete && img.naturalWidth") == 240
    pay = web.locator("#pay-link")
    assert pay.evaluate("a => getComputedStyle(a).backgroundColor") == "rgb(91, 42, 134)"
    assert serious_violations(web) == []
    web.screenshot(path=str(SCREENSHOTS / "web-invoice-branded-desktop.png"))
    assert refused_by_csp == []
    context.close()
