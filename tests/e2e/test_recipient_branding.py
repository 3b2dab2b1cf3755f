"""The recipient's other pages in Chromium at phone size, for a tenant with a logo and a colour:
the pay page and Mina sidor (with the customer's payments and autogiro mandate) load the logo
(its pixels arrive) and the brand stylesheet under the pages' CSP (no violation reported), and
axe-core finds no serious or critical violation. Screenshots for docs/web-invoice.md and
docs/engagement.md."""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from kvitt.tenants import branding
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.e2e.test_web_invoice import SCREENSHOTS, serious_violations
from tests.segments.isolation_cases import _created
from tests.web.helpers import issued, token_of

PHONE = {"width": 390, "height": 844}
COLOUR = "#5b2a86"


def brand(db: Database, tenant_id: int) -> None:
    drawn = Image.new("RGB", (240, 64), (91, 42, 134))
    ImageDraw.Draw(drawn).text((16, 18), "NORRSKEN", fill=(255, 255, 255), font_size=26)
    buffer = io.BytesIO()
    drawn.save(buffer, "PNG")
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        branding.set_logo(session, tenant, buffer.getvalue())
        tenant.brand_color = COLOUR


def branded(page: Page) -> None:
    logo = page.locator("img.issuer-logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 240
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert accent == COLOUR


def test_the_pay_page_and_my_pages_carry_the_brand_on_a_phone(
    browser: Browser, base_url: str, api: Api, db: Database
) -> None:
    brand(db, api.tenant_id)
    body = {"customer_no": "K-1", "name": "Astrid Lindqvist", "email": "astrid@example.se"}
    customer: dict[str, Any] = _created(api.post("/customers", body))
    paid = issued(api, customer)
    assert api.post("/payments", {"amount": paid["total"], "reference": paid["ocr"]}).status_code == 201
    open_one = issued(api, customer)
    mandate = {"customer": customer["id"], "clearing": "5000", "account": "1234567", "personal_number": "811218-9876"}
    assert api.post("/autogiro/mandates", mandate).status_code in (200, 201)

    context = browser.new_context(viewport=PHONE, locale="sv-SE", base_url=base_url, has_touch=True)
    refused_by_csp: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: refused_by_csp.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(f"/i/{token_of(open_one)}/betala")
    expect(page.get_by_role("heading", name=f"Betala faktura {open_one['number']}")).to_be_visible()
    branded(page)
    assert serious_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "pay-branded-phone.png"), full_page=True)

    page.goto(f"/i/{token_of(open_one)}")
    page.get_by_role("button", name="Mejla mig en länk till Mina sidor").click()
    expect(page.locator("#mina-sidor")).to_contain_text("en länk till Mina sidor på väg")
    with db.read() as session:
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == "delivery.staff_email")).one()
    token = re.search(r"/m/([A-Za-z0-9_-]+)", job.payload["text"]).group(1)  # type: ignore[union-attr]
    page.goto(f"/m/{token}")
    expect(page.get_by_role("heading", name="Dina betalningar")).to_be_visible()
    expect(page.locator("#betalningar tbody tr")).to_have_count(1)
    expect(page.locator("#betalningar tbody")).to_contain_text(f"Faktura {paid['number']}")
    expect(page.locator("#autogiro")).to_contain_text("5000-***4567")
    branded(page)
    assert serious_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "my-pages-branded-phone.png"), full_page=True)
    assert refused_by_csp == []
    context.close()
