"""Autogiro on the web invoice, signed with BankID: the sign-up, the order's page and its status,
cancel, failures; against the BankID simulator over real mutual TLS."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.autogiro.models import Mandate
from kvitt.bankid import service as signing
from kvitt.bankid.client import BankIDClient, tls_context
from kvitt.bankid.models import SignOrder
from kvitt.core.config import Settings
from kvitt.core.db import Database, utcnow
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.bankid import DEFAULT_USER, BankIDSimulator, CertFiles, make_certs, settings_for, tls_options
from tests.conftest import Api
from tests.web.helpers import form_token, issued, make_customer, open_page, token_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("bankid"))


@pytest.fixture(scope="module")
def sim_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def bankid(certs: CertFiles, sim_clock: Clock) -> Iterator[tuple[BankIDSimulator, RunningServer]]:
    simulator = BankIDSimulator(complete_after=3.0, clock=sim_clock)
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


@pytest.fixture(autouse=True)
def collect_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Collect on every view here (the two-second spacing has its own test)."""
    monkeypatch.setattr(signing, "COLLECT_EVERY", timedelta(0))


def start(client: TestClient, invoice: dict[str, Any], **fields: str) -> httpx.Response:
    token = token_of(invoice)
    html = client.get(f"/i/{token}/autogiro").text
    csrf = form_token(html, f"/i/{token}/autogiro")
    return client.post(f"/i/{token}/autogiro", data={"csrf": csrf, **fields}, follow_redirects=False)


def mandates(db: Database) -> list[Mandate]:
    with db.read() as session:
        return list(session.scalars(select(Mandate)))


def test_the_invoice_offers_autogiro_under_betala_and_in_settings(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    url = f"/i/{token_of(invoice)}/autogiro"
    assert f'href="{url}"' in open_page(client, invoice)
    assert f'href="{url}"' in open_page(client, invoice, "?tab=installningar")


def test_a_signed_mandate_is_pending_with_bankids_personal_number_and_evidence(
    api: Api, client: TestClient, db: Database, bankid: tuple[BankIDSimulator, RunningServer], sim_clock: Clock
) -> None:
    customer = make_customer(api, id_number="811218-9876")
    invoice = issued(api, customer)
    # A personal number slipped into the form is ignored: only BankID's counts.
    response = start(client, invoice, clearing="8327-9", account="994 123 458-2", personal_number="19121212-1212")
    assert response.status_code == 303, response.text
    order_url = response.headers["location"]
    name, body = bankid[0].requests[-1]
    assert name == "sign"
    # The customer record names a personal number: only that person may sign (BankID's requirement).
    assert body["requirement"] == {"personalNumber": "198112189876"}
    text = base64.b64decode(body["userVisibleData"]).decode()
    assert "Medgivande till Autogiro" in text and "8327-9941234582" in text and "Kundnummer: 1001" in text

    page = client.get(order_url).text
    assert "<svg" in page and 'class="qr"' in page  # the animated QR code, drawn on the server
    order = bankid[0].orders[next(iter(o for o in bankid[0].orders))]
    assert f"autostarttoken={order.auto_start_token}" in page
    assert "Starta BankID-appen." in page and 'http-equiv="refresh"' in page
    sim_clock.now += 1.5
    status_html = client.get(order_url + "/status?hint=outstandingTransaction").text
    assert "Skriv in din säkerhetskod" in status_html and 'hx-swap-oob="true"' in status_html
    # Asked again with the hint it now shows: a fresh QR code, the message not sent again.
    unchanged = client.get(order_url + "/status?hint=userSign").text
    assert "<svg" in unchanged and "bankid-message" not in unchanged and "hint=userSign" in unchanged

    sim_clock.now += 2
    status = client.get(order_url + "/status")
    assert status.headers["HX-Refresh"] == "true"
    done = client.get(order_url).text
    assert "Medgivandet är signerat" in done and 'http-equiv="refresh"' not in done

    [mandate] = mandates(db)
    assert (mandate.status, mandate.source, mandate.clearing, mandate.account) == (
        "pending",
        "bankid",
        "8327",
        "9941234582",
    )
    assert mandate.personal_number == "198112189876"  # from BankID's completionData, not the form's
    assert mandate.evidence["signature"] and mandate.evidence["ocsp_response"]
    assert mandate.evidence["completion_data"]["user"]["personalNumber"] == "198112189876"
    assert mandate.evidence["verified"] == {
        "personal_number": "198112189876",
        "signature_covers_mandate": True,
        "ocsp_response_present": True,
        "xmldsig_value_verified": False,
    }
    assert "Medgivande till Autogiro" in mandate.evidence["user_visible_data"]
    listed = api.get("/autogiro/mandates").json()["data"]
    assert [(m["id"], m["status"], m["signed_with_bankid"]) for m in listed] == [(mandate.id, "pending", True)]
    # The sign-up now shows the mandate instead of the form.
    again = client.get(f"/i/{token_of(invoice)}/autogiro").text
    assert "Du har ett medgivande för autogiro" in again and 'name="clearing"' not in again


def test_bad_numbers_are_named_and_bankid_is_not_asked(
    api: Api, client: TestClient, bankid: tuple[BankIDSimulator, RunningServer]
) -> None:
    invoice = issued(api)
    before = len(bankid[0].requests)
    response = start(client, invoice, clearing="12", account="abc")
    assert response.status_code == 422
    assert 'id="clearing-error"' in response.text and 'id="account-error"' not in response.text
    response = start(client, invoice, clearing="3300", account="")
    assert response.status_code == 422 and 'id="account-error"' in response.text
    assert len(bankid[0].requests) == before


def test_a_form_without_its_token_is_refused(
    api: Api, client: TestClient, bankid: tuple[BankIDSimulator, RunningServer]
) -> None:
    invoice = issued(api)
    before = len(bankid[0].requests)
    token = token_of(invoice)
    response = client.post(f"/i/{token}/autogiro", data={"csrf": "0" * 64, "clearing": "3300", "account": "1234567"})
    assert response.status_code == 422 and len(bankid[0].requests) == before


def test_cancel_ends_the_order_at_bankid(
    api: Api, client: TestClient, db: Database, bankid: tuple[BankIDSimulator, RunningServer]
) -> None:
    invoice = issued(api)
    order_url = start(client, invoice, clearing="3300", account="8112189876").headers["location"]
    page = client.get(order_url).text
    csrf = form_token(page, order_url.split("?")[0] + "/cancel")
    response = client.post(order_url + "/cancel", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    with db.read() as session:
        order = session.scalars(select(SignOrder)).one()
    assert order.status == "cancelled" and order.qr_start_secret is None
    assert order.order_ref not in bankid[0].orders
    assert "Åtgärden avbruten." in client.get(order_url).text
    assert mandates(db) == []


def test_a_failed_order_shows_bankids_message_and_makes_no_mandate(
    api: Api,
    client: TestClient,
    db: Database,
    bankid: tuple[BankIDSimulator, RunningServer],
    sim_clock: Clock,
    certs: CertFiles,
) -> None:
    context = tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    httpx.post(f"{bankid[1].url}/sim/next", json={"hintCode": "certificateErr"}, verify=context).raise_for_status()
    invoice = issued(api)
    order_url = start(client, invoice, clearing="3300", account="8112189876").headers["location"]
    client.get(order_url)
    sim_clock.now += 5
    page = client.get(order_url).text
    assert "för gammalt eller spärrat" in page and 'id="again"' in page
    assert mandates(db) == []


def test_a_customer_with_a_mandate_cannot_start_another(
    api: Api, client: TestClient, bankid: tuple[BankIDSimulator, RunningServer]
) -> None:
    customer = make_customer(api)
    invoice = issued(api, customer)
    created = api.post(
        "/autogiro/mandates",
        {"customer": customer["id"], "clearing": "3300", "account": "8112189876", "personal_number": "811218-9876"},
    )
    assert created.status_code in (200, 201), created.text
    page = client.get(f"/i/{token_of(invoice)}/autogiro").text
    assert "Du har ett medgivande för autogiro från konto 3300-******9876" in page


def test_another_invoices_or_tenants_order_is_not_found(api: Api, api_b: Api, client: TestClient) -> None:
    first = issued(api)
    same_tenant = issued(api, make_customer(api, customer_no="1002"))
    other_tenant = issued(api_b)
    order_url = start(client, first, clearing="3300", account="8112189876").headers["location"]
    order_id = order_url.rsplit("/", 1)[1]
    for other in (same_tenant, other_tenant):
        assert client.get(f"/i/{token_of(other)}/autogiro/{order_id}").status_code == 404
        assert client.get(f"/i/{token_of(other)}/autogiro/{order_id}/status").status_code == 404
        csrf = form_token(client.get(f"/i/{token_of(other)}/autogiro").text, f"/i/{token_of(other)}/autogiro")
        cancel = client.post(f"/i/{token_of(other)}/autogiro/{order_id}/cancel", data={"csrf": csrf})
        assert cancel.status_code == 404
    assert "Starta BankID-appen." in client.get(order_url).text  # still pending


def test_collect_is_called_at_most_every_two_seconds(
    api: Api,
    client: TestClient,
    db: Database,
    bankid: tuple[BankIDSimulator, RunningServer],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signing, "COLLECT_EVERY", timedelta(seconds=2))
    invoice = issued(api)
    order_id = int(start(client, invoice, clearing="3300", account="8112189876").headers["location"].rsplit("/", 1)[1])
    collects = lambda: sum(1 for name, _ in bankid[0].requests if name == "collect")  # noqa: E731
    t0 = utcnow()
    with BankIDClient.from_settings(settings) as bankid_client:
        before = collects()
        signing.poll(db, bankid_client, api.tenant_id, order_id, t0)
        signing.poll(db, bankid_client, api.tenant_id, order_id, t0 + timedelta(seconds=1))
        assert collects() == before + 1
        signing.poll(db, bankid_client, api.tenant_id, order_id, t0 + timedelta(seconds=2))
        assert collects() == before + 2


def test_without_bankid_nothing_is_offered(api: Api, client: TestClient, app: Any) -> None:
    app.state.settings = app.state.settings.model_copy(update={"bankid_url": None})
    app.state.bankid_client = None
    invoice = issued(api)
    assert "/autogiro" not in open_page(client, invoice)
    assert "går inte att teckna här just nu" in client.get(f"/i/{token_of(invoice)}/autogiro").text


def test_a_half_configured_bankid_is_not_offered_and_breaks_nothing(
    api: Api, client: TestClient, app: Any, certs: CertFiles, tmp_path: Any
) -> None:
    other = make_certs(tmp_path / "other")
    app.state.settings = app.state.settings.model_copy(update={"bankid_key": str(other.client_key)})
    invoice = issued(api)
    page = client.get(f"/i/{token_of(invoice)}/autogiro")
    assert page.status_code == 200 and "går inte att teckna här just nu" in page.text


def test_an_order_bankid_no_longer_knows_fails_instead_of_polling_forever(
    api: Api, client: TestClient, db: Database, bankid: tuple[BankIDSimulator, RunningServer]
) -> None:
    invoice = issued(api)
    order_url = start(client, invoice, clearing="3300", account="8112189876").headers["location"]
    with db.read() as session:
        order_ref = session.scalars(select(SignOrder.order_ref)).one()
    bankid[0].orders.pop(order_ref)  # forgotten by BankID (e.g. ended in another window)
    page = client.get(order_url).text
    assert "Okänt fel. Försök igen." in page and 'id="again"' in page
    with db.read() as session:
        order = session.scalars(select(SignOrder)).one()
    assert (order.status, order.error) == ("failed", "invalidParameters")


def test_a_mandate_made_meanwhile_is_not_doubled(
    api: Api, client: TestClient, db: Database, bankid: tuple[BankIDSimulator, RunningServer], sim_clock: Clock
) -> None:
    customer = make_customer(api)
    invoice = issued(api, customer)
    order_url = start(client, invoice, clearing="3300", account="8112189876").headers["location"]
    created = api.post(
        "/autogiro/mandates",
        {"customer": customer["id"], "clearing": "5000", "account": "1234567", "personal_number": "811218-9876"},
    )
    assert created.status_code in (200, 201), created.text
    sim_clock.now += 5
    page = client.get(order_url).text
    assert "Det finns redan ett medgivande för autogiro för dig." in page
    with db.read() as session:
        order = session.scalars(select(SignOrder)).one()
    assert (order.status, order.error, order.mandate_id) == ("failed", "mandate_exists", None)
    assert [m.clearing for m in mandates(db)] == ["5000"]


def test_without_a_personal_number_on_record_anyone_signs_and_bankids_number_counts(
    api: Api, client: TestClient, db: Database, bankid: tuple[BankIDSimulator, RunningServer], sim_clock: Clock
) -> None:
    invoice = issued(api)  # the customer record names no id number
    order_url = start(client, invoice, clearing="3300", account="8112189876").headers["location"]
    assert "requirement" not in bankid[0].requests[-1][1]
    client.get(order_url)
    sim_clock.now += 5
    assert "Medgivandet är signerat" in client.get(order_url).text
    [mandate] = mandates(db)
    assert mandate.personal_number == DEFAULT_USER[0]


def test_a_signer_who_is_not_the_customer_on_record_makes_no_mandate(
    api: Api, client: TestClient, db: Database, bankid: tuple[BankIDSimulator, RunningServer], sim_clock: Clock
) -> None:
    customer = make_customer(api)
    invoice = issued(api, customer)
    order_url = start(client, invoice, clearing="3300", account="8112189876").headers["location"]
    client.get(order_url)
    # While the order runs, the customer record comes to name another person than the signer.
    patched = api.patch(f"/customers/{customer['id']}", {"id_number": "811218-9876"})
    assert patched.status_code == 200, patched.text
    sim_clock.now += 5
    page = client.get(order_url).text
    assert "ett annat BankID än kundens" in page and 'id="again"' in page
    with db.read() as session:
        order = session.scalars(select(SignOrder)).one()
    assert (order.status, order.error, order.mandate_id) == ("failed", "personal_number_mismatch", None)
    assert mandates(db) == []
