"""Engagement in a real browser at phone size (issue 16, "Tests with real parts"): a customer in
the segment sees the offer on the web invoice, clicks it (redirected to the offer's own page),
answers the survey; a customer outside the segment sees none; the report counts exactly those
impressions, clicks and answers. Screenshots go to docs/screenshots/."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Route, expect

from tests.conftest import Api
from tests.e2e.test_web_invoice import SCREENSHOTS, serious_violations
from tests.engagement.helpers import medium_segment, placement, upgrade_offer
from tests.segments.isolation_cases import _created
from tests.web.helpers import issued, token_of

PHONE = {"width": 390, "height": 844}
TARGET = "https://offers.example/uppgradera"


def _setup(api: Api) -> dict[str, Any]:
    def customer(no: str, plan: str) -> dict[str, Any]:
        body = {
            "customer_no": no,
            "name": f"Kund {no}",
            "email": f"{no.lower()}@example.se",
            "attributes": {"plan": plan, "contract_end": "2027-03-31"},
        }
        return _created(api.post("/customers", body))

    segment = medium_segment(api)
    text = "Surfa fritt i hela världen. Första månaden utan extra kostnad."
    offer = upgrade_offer(api, segment, text=text, url=TARGET, priority=1)
    info = placement(api, "info", "Ditt avtal", segment, text="Ditt avtal går ut {contract_end}.", priority=2)
    survey = placement(api, "survey", "Hur nöjd är du med oss?", segment, survey={"type": "rating"}, priority=3)
    return {
        "inside": issued(api, customer("IN-1", "Medium")),
        "outside": issued(api, customer("OUT-1", "Bas")),
        "offer": offer,
        "info": info,
        "survey": survey,
    }


def test_offer_clicked_and_survey_answered_on_a_phone_and_counted(browser: Browser, base_url: str, api: Api) -> None:
    setup = _setup(api)
    context = browser.new_context(viewport=PHONE, locale="sv-SE", base_url=base_url, has_touch=True)
    # The offer's own site, answered here: the browser has no network, and the redirect is the point.
    context.route("https://offers.example/**", lambda route: _offer_site(route))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"/i/{token_of(setup['inside'])}")
    area = page.locator("#erbjudanden")
    expect(area.get_by_role("heading", name="Uppgradera till Global Plus")).to_be_visible()
    expect(area).to_contain_text("Ditt avtal går ut 2027-03-31.")
    area.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    area.screenshot(path=str(SCREENSHOTS / "engagement-phone.png"))
    assert serious_violations(page) == []

    area.get_by_role("link", name="Uppgradera nu").click()
    page.wait_for_url(TARGET)
    expect(page.get_by_role("heading", name="Global Plus")).to_be_visible()

    page.goto(f"/i/{token_of(setup['inside'])}")  # back on the invoice within the same visit
    survey = page.locator(f"#placement-{setup['survey']['id']}")
    survey.get_by_label("4").check()
    survey.get_by_role("button", name="Svara").click()
    expect(page.locator(f"#placement-{setup['survey']['id']}")).to_contain_text("Tack för ditt svar!")

    page.goto(f"/i/{token_of(setup['outside'])}")
    expect(page.get_by_role("heading", name="Specifikation")).to_be_visible()
    assert page.locator("#erbjudanden").count() == 0 and page.locator(".placement").count() == 0
    assert errors == []
    context.close()

    period = {
        "from": (date.today() - timedelta(days=1)).isoformat(),
        "to": (date.today() + timedelta(days=1)).isoformat(),
    }
    rows = {r["placement"]: r for r in api.get("/reports/engagement", params=period).json()["data"]}
    counted = {pid: (r["impressions"], r["unique_viewers"], r["clicks"], r["answers"]) for pid, r in rows.items()}
    assert counted == {
        setup["offer"]["id"]: (1, 1, 1, 0),
        setup["info"]["id"]: (1, 1, 0, 0),
        setup["survey"]["id"]: (1, 1, 0, 1),
    }
    assert rows[setup["survey"]["id"]]["ratings"] == {"4": 1} and rows[setup["offer"]["id"]]["ctr"] == "1.0000"
    assert rows[setup["offer"]["id"]]["channels"] == {"web": {"impressions": 1, "clicks": 1, "ctr": "1.0000"}}


def _offer_site(route: Route) -> None:
    route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Erbjudande</title><h1>Global Plus</h1>"
    )


def test_screenshot_of_my_pages(browser: Browser, base_url: str, api: Api, db: Any) -> None:
    """Mina sidor at phone size, reached by the link a recipient is emailed (read from the outbox)."""
    import re

    from sqlalchemy import select

    from kvitt.core.outbox import OutboxJob

    setup = _setup(api)
    customer = setup["inside"]["customer"]
    line = {"description": "Mobilabonnemang Medium", "quantity": "1", "unit_price": 24900, "vat_rate": 25}
    draft = _created(api.post("/invoices", {"customer": customer, "lines": [line]}))
    api.post(f"/invoices/{draft['id']}/issue")
    context = browser.new_context(viewport=PHONE, locale="sv-SE", base_url=base_url, has_touch=True)
    page = context.new_page()
    page.goto(f"/i/{token_of(setup['inside'])}")
    page.get_by_role("button", name="Mejla mig en länk till Mina sidor").click()
    expect(page.locator("#mina-sidor")).to_contain_text("en länk till Mina sidor på väg")
    with db.read() as session:
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == "delivery.staff_email")).one()
    token = re.search(r"/m/([A-Za-z0-9_-]+)", job.payload["text"]).group(1)  # type: ignore[union-attr]
    page.goto(f"/m/{token}")
    expect(page.get_by_role("heading", name="Mina sidor")).to_be_visible()
    expect(page.locator("ul.mypages > li")).to_have_count(2)
    page.screenshot(path=str(Path(SCREENSHOTS) / "my-pages-phone.png"), full_page=True)
    assert serious_violations(page) == []
    context.close()
