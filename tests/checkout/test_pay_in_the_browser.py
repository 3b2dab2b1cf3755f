"""A payer pays a web invoice in Chromium at phone size: with Swish, and by card on the card
simulator's page; the page says "Betald" once Kvitt has booked it. Screenshots go to
docs/screenshots/ (docs/payments.md shows them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kvitt.core.outbox import runner_for
from kvitt.simulators.card import CardSimulator
from tests.checkout.conftest import Shop

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def worker(shop: Shop) -> Iterator[None]:
    """The job worker, as `kvitt run` has it: runs due jobs every fifth of a second."""
    stop = threading.Event()
    run = runner_for(shop.db)

    def loop() -> None:
        while not stop.wait(0.2):
            run()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="sv-SE")
    page = context.new_page()
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_pay_with_swish_on_a_phone(shop: Shop, card: CardSimulator, worker: None, phone: Page) -> None:
    shop.swish.simulator.pay_after = 1.5
    invoice = shop.issued_invoice()
    phone.goto(invoice["url"].replace("https://kvitt.test", shop.url))
    phone.get_by_role("link", name="Betala med Swish").click()
    expect(phone.get_by_role("heading", name=f"Betala faktura {invoice['number']}")).to_be_visible()
    phone.get_by_label("Eller ange ditt mobilnummer").fill("070-123 45 67")
    shot(phone, "pay-choice-phone.png")
    phone.get_by_role("button", name="Skicka till Swish").click()
    expect(phone.locator("#pay-message")).to_contain_text("Öppna Swish-appen", timeout=15_000)
    shot(phone, "pay-swish-waiting-phone.png")
    expect(phone.locator("#pay-message")).to_contain_text("Betald", timeout=30_000)
    shot(phone, "pay-swish-paid-phone.png")
    assert shop.api.get(f"/invoices/{invoice['id']}").json()["state"] == "paid"
    assert shop.ledger()["1930"] == invoice["total"]


def test_pay_by_card_on_a_phone(shop: Shop, card: CardSimulator, worker: None, phone: Page) -> None:
    invoice = shop.issued_invoice()
    phone.goto(invoice["url"].replace("https://kvitt.test", shop.url))
    phone.get_by_role("link", name="Betala med kort").click()
    phone.locator("#card-go").click()
    phone.get_by_role("link", name="Till kortbetalningen").click(timeout=15_000)
    expect(phone.get_by_role("heading", name="Kortbetalning")).to_be_visible()
    phone.get_by_label("Kortnummer").fill("4242 4242 4242 4242")
    shot(phone, "pay-card-page-phone.png")
    phone.get_by_role("button", name="Betala").click()
    expect(phone.locator("#pay-message")).to_contain_text("Betald", timeout=30_000)
    shot(phone, "pay-card-paid-phone.png")
    assert shop.api.get(f"/invoices/{invoice['id']}").json()["state"] == "paid"
    assert shop.ledger()["1580"] == invoice["total"]


def test_a_declined_card_says_so_and_offers_swish(shop: Shop, card: CardSimulator, worker: None, phone: Page) -> None:
    invoice = shop.issued_invoice()
    phone.goto(invoice["url"].replace("https://kvitt.test", shop.url) + "/betala#kort")
    phone.locator("#card-go").click()
    phone.get_by_role("link", name="Till kortbetalningen").click(timeout=15_000)
    phone.get_by_label("Kortnummer").fill("4000 0000 0000 0002")
    phone.get_by_role("button", name="Betala").click()
    expect(phone.locator("#pay-message")).to_contain_text("Kortet nekades av banken.", timeout=30_000)
    expect(phone.get_by_role("link", name="Betala med Swish")).to_be_visible()
    shot(phone, "pay-card-declined-phone.png")
