"""The back office's writing forms in a real browser, without any script of ours needed: an admin
writes an event-chain rule, creates a dunning policy and imports a billing file by the page's own
forms (a file field, textareas, selects), sees each result, and axe-core finds no serious or
critical violation on the pages with their forms and answers. Screenshots for docs/admin.md."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from kvitt.billing.seed import seed_subscriptions
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.web.models import WebInvoiceVisit
from tests.admin.conftest import make_customer, make_issued, make_staff
from tests.billing_files.test_import import GOOD
from tests.conftest import Api
from tests.e2e.test_admin import SCREENSHOTS, serious_violations, staff_at
from tests.webhooks.helpers import run_worker

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
    page = staff_at(browser, base_url, EMAIL, "/admin/handelsekedjor/ny", "Ny regel")
    context = page.context
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


def test_finance_splits_a_payment_and_watches_a_billing_run_without_a_reload(
    browser: Browser, base_url: str, api: Api, db: Database, settings: Settings, tenant_a: tuple[int, str]
) -> None:
    """Avvikelser: a payment split over two invoices by the plain form (a refusal first, shown at
    the deviation); Fakturering: a run started in the page, whose row turns from running to done
    by htmx's polling while the page stays the same document (no reload)."""
    make_staff(db, tenant_a[0], EMAIL, "finance")
    customer = make_customer(api, "K-5", name="Astrid Lindqvist")["id"]
    first, second = make_issued(api, customer), make_issued(api, customer, unit_price=24900)
    assert api.post("/payments", {"amount": first["total"] + 10000, "payer_name": "Astrid L"}).status_code == 201
    with db.transaction() as session:
        seed_subscriptions(session, tenant_a[0], 2, start=date(2026, 1, 1))
    page = staff_at(browser, base_url, EMAIL, "/admin/avvikelser", "Avvikelser")
    context = page.context

    def split(rows: list[tuple[int, str]]) -> None:
        for index, (number, amount) in enumerate(rows, 1):
            page.get_by_label(f"Fakturanummer, rad {index}").fill(str(number))
            page.get_by_label(f"Belopp, kr, rad {index}").fill(amount)
        page.get_by_role("button", name="Fördela betalningen").click()

    whole = f"{first['total'] // 100},{first['total'] % 100:02d}"
    split([(first["number"], whole), (second["number"], "100,01")])  # 1 öre more than was paid
    expect(page.get_by_role("alert")).to_contain_text("but the payment holds")
    expect(page.get_by_label("Belopp, kr, rad 2")).to_have_value("100,01")  # kept as typed
    assert serious_violations(page) == []
    page.get_by_label("Belopp, kr, rad 2").fill("100")
    page.screenshot(path=str(SCREENSHOTS / "admin-deviation-split-desktop.png"), full_page=True)
    page.get_by_role("button", name="Fördela betalningen").click()
    expect(page.get_by_role("status")).to_have_text("Avvikelsen är löst.")
    assert api.get(f"/invoices/{first['id']}").json()["state"] == "paid"
    assert api.get(f"/invoices/{second['id']}").json()["remaining"] == second["total"] - 10000

    page.goto("/admin/fakturering")
    page.get_by_label("Dag", exact=True).fill("2026-02-01")
    page.get_by_role("button", name="Starta körningen").click()
    expect(page.get_by_role("status")).to_have_text("Körningen är startad.")
    runs = page.locator("#billing-runs")
    expect(runs).to_have_attribute("hx-trigger", "every 2s")
    expect(runs.get_by_role("cell", name="running", exact=True)).to_be_visible()
    assert serious_violations(page) == []
    page.evaluate("window.kvittSamePage = true")  # gone if the page were loaded again
    run_worker(db, settings)
    expect(runs.get_by_role("cell", name="done", exact=True)).to_be_visible(timeout=15000)
    expect(runs).not_to_have_attribute("hx-trigger", "every 2s")  # the polling has stopped
    assert page.evaluate("window.kvittSamePage === true")
    assert serious_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "admin-billing-progress-desktop.png"), full_page=True)
    context.close()


def test_support_pauses_a_subscription_and_cancels_a_mandate_from_the_customer_page(
    browser: Browser, base_url: str, api: Api, db: Database, tenant_a: tuple[int, str]
) -> None:
    make_staff(db, tenant_a[0], "kundtjanst@norrsken.test", "support")
    customer = make_customer(api, "K-6", name="Bo Ek", id_number="19121212-1212")["id"]
    line = {"description": "Mobil Fri", "quantity": "1", "unit_price": 29900, "vat_rate": 25}
    sub = api.post("/subscriptions", {"customer": customer, "lines": [line]}).json()
    held = api.post("/autogiro/mandates", {"customer": customer, "clearing": "5001", "account": "12"}).json()
    page = staff_at(browser, base_url, "kundtjanst@norrsken.test", f"/admin/kunder/{customer}", "Bo Ek")
    context = page.context
    assert serious_violations(page) == []
    page.get_by_label("Person-/organisationsnummer").fill("19121212-1213")  # a wrong check digit
    page.get_by_role("button", name="Spara numret").click()
    expect(page.get_by_role("alert")).to_contain_text("Person-/organisationsnummer: not a valid")
    expect(page.get_by_label("Person-/organisationsnummer")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Pausa abonnemanget").click()
    expect(page.get_by_role("status")).to_have_text("Abonnemanget är pausat.")
    assert [p["end"] for p in api.get(f"/subscriptions/{sub['id']}").json()["pauses"]] == [None]
    page.get_by_role("button", name="Avsluta medgivandet").click()
    expect(page.get_by_role("status")).to_have_text("Medgivandet är avslutat.")
    assert api.get(f"/autogiro/mandates/{held['id']}").json()["status"] == "cancelled"
    assert serious_violations(page) == []
    page.locator("#abonnemang").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "admin-customer-contracts-desktop.png"), full_page=True)
    context.close()


def test_an_admin_sets_up_a_webhook_a_template_the_dunning_settings_and_own_details(
    browser: Browser, base_url: str, api: Api, db: Database, tenant_a: tuple[int, str]
) -> None:
    """The pages of issue 15's last gaps, by their forms, each with axe-core: a webhook endpoint
    (its secret shown once, then changed and deleted), a shipped event chain installed and the
    rule deleted, the dunning settings, one's own details, and the invoice page with its preview."""
    make_staff(db, tenant_a[0], EMAIL, "admin")
    invoice = make_issued(api, make_customer(api, "K-1", name="Astrid Lindqvist")["id"])
    page = staff_at(browser, base_url, EMAIL, "/admin/webhooks", "Webhooks")
    context = page.context
    assert serious_violations(page) == []

    page.get_by_label("Adress (https://)").fill("https://crm.example/kvitt")
    page.get_by_label("Händelser (åtskilda med komma)").fill("invoice.paid")
    page.get_by_label("Händelser per anrop").fill("10")
    page.get_by_role("button", name="Lägg upp mottagaren").click()
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
    assert serious_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "admin-webhook-created-desktop.png"), full_page=True)
    (endpoint,) = api.get("/webhook-endpoints").json()["data"]
    assert endpoint["max_batch_size"] == 10 and endpoint["events"] == ["invoice.paid"]
    page.get_by_role("link", name="https://crm.example/kvitt").click()
    expect(page.locator("h1")).to_have_text("https://crm.example/kvitt")
    page.get_by_label("Aktiv").uncheck()
    page.get_by_role("button", name="Spara mottagaren").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    assert api.get(f"/webhook-endpoints/{endpoint['id']}").json()["enabled"] is False
    assert serious_violations(page) == []
    page.get_by_role("button", name="Ta bort mottagaren").click()
    expect(page.get_by_role("status")).to_have_text("Borttaget.")
    assert api.get("/webhook-endpoints").json()["data"] == []

    page.goto("/admin/handelsekedjor#mallar")
    page.get_by_role("button", name="Installera: Misslyckad autogirodragning: e-postfaktura med Swish").click()
    expect(page.get_by_role("status")).to_contain_text("Mallen är installerad")
    (rule,) = api.get("/automation-rules").json()["data"]
    assert rule["enabled"] is False
    assert serious_violations(page) == []
    page.get_by_role("button", name="Ta bort regeln").click()
    expect(page.get_by_role("status")).to_have_text("Borttaget.")
    assert api.get("/automation-rules").json()["data"] == []
    page.screenshot(path=str(SCREENSHOTS / "admin-automation-templates-desktop.png"), full_page=True)

    page.goto("/admin/paminnelser#installningar")
    page.get_by_label("Längsta anstånd, dagar").fill("45")
    page.get_by_label("Inkassobolagets adress (tomt: inget)").fill("https://inkasso.example/api")
    page.get_by_role("button", name="Spara inställningarna").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    settings = api.get("/dunning-settings").json()
    assert (settings["extension_max_days"], settings["agency_url"]) == (45, "https://inkasso.example/api")
    assert serious_violations(page) == []

    page.get_by_role("link", name="Mina uppgifter").click()
    expect(page.locator("h1")).to_have_text("Mina uppgifter")
    page.get_by_label("Namn").fill("Chefen")
    page.get_by_role("button", name="Spara").click()
    expect(page.get_by_role("status")).to_have_text("Sparat.")
    assert serious_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "admin-profile-desktop.png"), full_page=True)

    page.goto(f"/admin/fakturor/{invoice['id']}#forhandsvisning")
    frame = page.frame_locator("iframe[title='Webbfakturan som kunden ser den']")
    expect(frame.get_by_text(f"Faktura {invoice['number']}").first).to_be_visible()
    assert serious_violations(page) == []
    page.locator("section.preview").screenshot(path=str(SCREENSHOTS / "admin-invoice-preview-desktop.png"))
    with db.read() as session:  # the preview counted no visit
        assert session.scalar(select(func.count()).where(WebInvoiceVisit.invoice_id == invoice["id"])) == 0
    context.close()
