"""Autogiro signed with BankID on the web invoice, in Chromium at phone and desktop sizes, against
the BankID simulator over mutual TLS (issue 14, "Playwright signs a mandate on the web invoice").

The payer opens the invoice, picks autogiro under Betala, gives clearing and account number and
signs: the page shows the animated QR code (read back from a screenshot with zbar and checked
against the order's qrStartSecret: ``bankid.<qrStartToken>.<t>.<HMAC>``, a new one each second)
and the autostart link; the simulator completes the order by itself, the page says so, and the
mandate is pending with BankID's personal number. Without JavaScript the page reloads itself to
the same end. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kvitt.autogiro.models import Mandate
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.bankid import BankIDSimulator, CertFiles, make_certs, settings_for, tls_options
from tests.conftest import Api
from tests.e2e.test_web_invoice import SCREENSHOTS, SIZES, decode_qr, serious_violations
from tests.web.helpers import issued, make_customer, token_of


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("bankid"))


@pytest.fixture(scope="module")
def bankid(certs: CertFiles) -> Iterator[tuple[BankIDSimulator, RunningServer]]:
    simulator = BankIDSimulator(complete_after=6.0)
    with serve_in_thread(simulator.app(), **tls_options(certs)) as server:
        yield simulator, server


@pytest.fixture
def settings(database_url: str, bankid: tuple[BankIDSimulator, RunningServer], certs: CertFiles) -> Settings:
    env = settings_for(bankid[1].url, certs)
    return Settings(
        database_url=database_url,
        embedded_worker=False,
        public_url="https://kvitt.test",
        bankid_url=env["KVITT_BANKID_URL"],
        bankid_cert=env["KVITT_BANKID_CERT"],
        bankid_key=env["KVITT_BANKID_KEY"],
        bankid_ca=env["KVITT_BANKID_CA"],
    )


def watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else 0)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def check_qr(page: Page, simulator: BankIDSimulator, tmp_path: Path) -> int:
    """The QR code on the page, read with zbar: BankID's animated QR data of the pending order."""
    content = decode_qr(page.locator("#bankid-status svg.qr").screenshot(), tmp_path)
    match = re.fullmatch(r"bankid\.([0-9a-f-]{36})\.(\d+)\.([0-9a-f]{64})", content)
    assert match, content
    token, seconds, code = match.groups()
    [order] = [o for o in simulator.orders.values() if o.qr_start_token == token]
    assert code == hmac.new(order.qr_start_secret.encode(), seconds.encode(), hashlib.sha256).hexdigest()
    return int(seconds)


@pytest.mark.parametrize("size", list(SIZES))
def test_payer_signs_an_autogiro_mandate_with_bankid(
    size: str,
    browser: Browser,
    base_url: str,
    api: Api,
    db: Database,
    bankid: tuple[BankIDSimulator, RunningServer],
    tmp_path: Path,
) -> None:
    customer = make_customer(api, id_number="811218-9876")
    invoice = issued(api, customer)
    context = browser.new_context(viewport=SIZES[size], locale="sv-SE", base_url=base_url, has_touch=size == "phone")
    page = context.new_page()
    errors = watch(page)

    page.goto(f"/i/{token_of(invoice)}")
    page.get_by_role("link", name="Autogiro med BankID").click()
    expect(page.get_by_role("heading", name="Autogiro", exact=True)).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Clearingnummer").fill("8327-9")
    page.get_by_label("Kontonummer").fill("994 123 458-2")
    page.get_by_role("button", name="Signera med BankID").click()

    expect(page.get_by_role("heading", name="Signera med BankID")).to_be_visible()
    # A phone gets the button that opens the app first; a computer the QR code and a small link.
    autostart = page.get_by_role("link", name="Öppna BankID-appen" if size == "phone" else "BankID på den här enheten")
    expect(autostart).to_have_attribute("href", re.compile(r"^https://app\.bankid\.com/\?autostarttoken=[0-9a-f-]{36}"))
    first = check_qr(page, bankid[0], tmp_path)
    expect(page.locator("#bankid-message")).to_have_text(re.compile("Starta BankID-appen|Skriv in din säkerhetskod"))
    page.wait_for_timeout(1500)  # htmx has fetched a fresh code by now
    assert check_qr(page, bankid[0], tmp_path) > first
    assert serious_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / f"bankid-signing-{size}.png"), full_page=True)

    expect(page.locator("#bankid-message")).to_have_text(re.compile("Medgivandet är signerat"), timeout=20_000)
    expect(page.locator("#bankid-status svg")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / f"bankid-signed-{size}.png"), full_page=True)
    assert errors == []
    context.close()

    [listed] = api.get("/autogiro/mandates").json()["data"]
    assert (listed["status"], listed["clearing"], listed["account"]) == ("pending", "8327", "9941234582")
    with db.read() as session:
        mandate = session.get(Mandate, listed["id"])
        assert mandate is not None and mandate.source == "bankid"
        # BankID's completionData: the customer's own number, which the sign order required of the signer.
        assert mandate.personal_number == "198112189876"
        assert mandate.evidence["verified"]["signature_covers_mandate"] is True
        assert mandate.evidence["signature"] and mandate.evidence["ocsp_response"]


def test_without_javascript_the_page_reloads_itself_until_signed(
    browser: Browser, base_url: str, api: Api, bankid: tuple[BankIDSimulator, RunningServer], tmp_path: Path
) -> None:
    invoice = issued(api)
    context = browser.new_context(
        viewport=SIZES["desktop"], locale="sv-SE", base_url=base_url, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"/i/{token_of(invoice)}/autogiro")
    page.get_by_label("Clearingnummer").fill("3300")
    page.get_by_label("Kontonummer").fill("8112189876")
    page.get_by_role("button", name="Signera med BankID").click()
    check_qr(page, bankid[0], tmp_path)
    expect(page.locator("#bankid-message")).to_have_text(re.compile("Medgivandet är signerat"), timeout=20_000)
    context.close()
    assert [m["status"] for m in api.get("/autogiro/mandates").json()["data"]] == ["pending"]


def test_payer_cancels_and_may_try_again(
    browser: Browser, base_url: str, api: Api, bankid: tuple[BankIDSimulator, RunningServer]
) -> None:
    invoice = issued(api)
    context = browser.new_context(viewport=SIZES["phone"], locale="sv-SE", base_url=base_url, has_touch=True)
    page = context.new_page()
    page.goto(f"/i/{token_of(invoice)}/autogiro")
    page.get_by_label("Clearingnummer").fill("3300")
    page.get_by_label("Kontonummer").fill("8112189876")
    page.get_by_role("button", name="Signera med BankID").click()
    page.get_by_role("button", name="Avbryt").click()
    expect(page.locator("#bankid-message")).to_have_text("Åtgärden avbruten.")
    page.get_by_role("link", name="Försök igen").click()
    expect(page.get_by_label("Clearingnummer")).to_be_visible()
    context.close()
    assert api.get("/autogiro/mandates").json()["data"] == []
