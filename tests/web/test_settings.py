"""Inställningar: the recipient changes delivery method, email, phone and language.

Each change updates the customer and is an invoice event naming what changed.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web.helpers import issued, make_customer, open_page, post_form, token_of


def settings_events(api: Api, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    events = api.get(f"/invoices/{invoice['id']}").json()["events"]
    return [e for e in events if e["type"] == "recipient_settings_changed"]


def test_switch_to_sms_updates_the_customer_and_records_the_change(api: Api, client: TestClient) -> None:
    customer = make_customer(api, delivery_method="letter")
    invoice = issued(api, customer)
    html = open_page(client, invoice, "?tab=installningar")
    assert 'value="letter" checked' in html and 'value="einvoice"' not in html
    response = post_form(
        client,
        invoice,
        "settings",
        {"delivery_method": "sms", "email": "astrid@example.se", "phone": "070-123 45 67", "language": "sv"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/i/{token_of(invoice)}?tab=installningar&done=settings#settings"
    stored = api.get(f"/customers/{customer['id']}").json()
    assert (stored["delivery_method"], stored["phone"], stored["email"]) == ("sms", "+46701234567", "astrid@example.se")
    [event] = settings_events(api, invoice)
    assert event["actor"] == "recipient"
    assert event["data"]["changes"] == {
        "delivery_method": {"from": "letter", "to": "sms"},
        "phone": {"from": None, "to": "+46701234567"},
    }
    after = open_page(client, invoice, "?tab=installningar&done=settings")
    assert "Dina inställningar är sparade." in after
    assert 'value="sms" checked' in after and 'value="+46701234567"' in after


def test_invalid_or_missing_addresses_are_shown_and_nothing_changes(api: Api, client: TestClient) -> None:
    customer = make_customer(api, delivery_method="email")
    invoice = issued(api, customer)
    bad_email = post_form(client, invoice, "settings", {"delivery_method": "email", "email": "astrid@", "phone": ""})
    assert bad_email.status_code == 422
    assert "Skriv en giltig e-postadress." in bad_email.text
    assert 'id="email" name="email" autocomplete="email" maxlength="254" value="astrid@" aria-invalid="true"' in (
        bad_email.text
    )
    no_phone = post_form(client, invoice, "settings", {"delivery_method": "sms", "email": "a@b.se", "phone": ""})
    assert no_phone.status_code == 422 and "Skriv ditt mobilnummer" in no_phone.text
    bad_phone = post_form(client, invoice, "settings", {"delivery_method": "sms", "email": "", "phone": "12"})
    assert bad_phone.status_code == 422 and "Skriv ett giltigt mobilnummer." in bad_phone.text
    einvoice = post_form(client, invoice, "settings", {"delivery_method": "einvoice", "email": "a@b.se"})
    assert einvoice.status_code == 422
    stored = api.get(f"/customers/{customer['id']}").json()
    assert (stored["delivery_method"], stored["email"], stored["phone"]) == ("email", "astrid@example.se", None)
    assert settings_events(api, invoice) == []


def test_nothing_changed_is_said_and_not_recorded(api: Api, client: TestClient) -> None:
    customer = make_customer(api, delivery_method="email")
    invoice = issued(api, customer)
    response = post_form(
        client, invoice, "settings", {"delivery_method": "email", "email": "astrid@example.se", "phone": ""}
    )
    assert response.status_code == 303 and "done=unchanged" in response.headers["location"]
    assert settings_events(api, invoice) == []


def test_language_choice_changes_the_page_language(api: Api, client: TestClient) -> None:
    customer = make_customer(api)
    invoice = issued(api, customer)
    assert '<html lang="sv"' in open_page(client, invoice)
    response = post_form(client, invoice, "settings", {"language": "en"})
    assert response.status_code == 303
    assert api.get(f"/customers/{customer['id']}").json()["language"] == "en"
    html = open_page(client, invoice)
    assert '<html lang="en"' in html and "Amount to pay" in html
    # The recipient can still read it in Swedish by the link, without changing the setting.
    swedish = open_page(client, invoice, "?lang=sv")
    assert '<html lang="sv"' in swedish and 'href="/i/' in swedish and "lang=sv" in swedish
