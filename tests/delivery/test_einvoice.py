"""E-invoices end to end: the UBL to the access point simulator over HTTP, or into a folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kvitt.core.db import Database
from kvitt.simulators import serve_in_thread
from kvitt.simulators.peppol_ap import BIS3_CUSTOMIZATION, AccessPointSimulator
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, event_types, issue, set_env
from tests.loopback import Mailbox

COMPANY = {"type": "company", "id_number": "556016-0680", "name": "Fjällström Energi AB"}


@pytest.fixture
def access_point(delivery_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[AccessPointSimulator]:
    simulator = AccessPointSimulator(keys={"ap-key"}, unreachable_receivers={"0007:5567654321"})
    with serve_in_thread(simulator.app()) as server:
        set_env(monkeypatch, KVITT_PEPPOL_AP_URL=server.url, KVITT_PEPPOL_AP_KEY="ap-key")
        yield simulator


def test_a_company_gets_its_invoice_through_the_access_point(
    api: Api, db: Database, access_point: AccessPointSimulator
) -> None:
    buyer = customer(api, "3001", delivery_method="einvoice", **COMPANY)
    invoice = issue(api, buyer["id"])
    drain(db)

    (document,) = access_point.documents.values()
    assert document["receiver"] == "0007:5560160680" and document["sender"] == "0007:5560360793"
    assert document["type"] == "Invoice" and BIS3_CUSTOMIZATION in document["xml"]
    assert f"<cbc:ID>{invoice['number']}</cbc:ID>" in document["xml"]
    (delivery,) = deliveries(api, invoice["id"])
    assert delivery["provider_ref"] == document["id"]
    # The status job asked the access point, which had transmitted it by then.
    assert delivery["state"] == "delivered"
    assert event_types(api, invoice["id"])[-2:] == ["sent", "delivered"]


def test_a_credit_note_goes_the_same_way(api: Api, db: Database, access_point: AccessPointSimulator) -> None:
    buyer = customer(api, "3002", delivery_method="einvoice", **COMPANY)
    invoice = issue(api, buyer["id"])
    assert api.post(f"/invoices/{invoice['id']}/credit", {"mode": "full"}).status_code == 201
    drain(db)
    assert sorted(d["type"] for d in access_point.documents.values()) == ["CreditNote", "Invoice"]


def test_an_undeliverable_einvoice_falls_back_to_email(
    api: Api, db: Database, access_point: AccessPointSimulator, mailbox: Mailbox
) -> None:
    buyer = customer(
        api, "3003", delivery_method="einvoice", email="ekonomi@example.se", **{**COMPANY, "id_number": "556765-4321"}
    )
    invoice = issue(api, buyer["id"])
    drain(db)
    einvoice, email = deliveries(api, invoice["id"])
    assert einvoice["state"] == "failed" and "did not accept" in einvoice["error"]
    assert email["channel"] == "email" and email["state"] == "sent"
    assert len(mailbox.to("ekonomi@example.se")) == 1


def test_a_receiver_outside_the_network_falls_back_at_once(
    api: Api, db: Database, access_point: AccessPointSimulator, mailbox: Mailbox
) -> None:
    access_point.known_receivers = {"0007:5560160680"}
    buyer = customer(
        api, "3004", delivery_method="einvoice", email="ekonomi@example.se", **{**COMPANY, "id_number": "556765-4321"}
    )
    invoice = issue(api, buyer["id"])
    drain(db)
    einvoice, email = deliveries(api, invoice["id"])
    assert "HTTP 404" in einvoice["error"] and "not registered" in einvoice["error"]
    assert email["state"] == "sent" and access_point.documents == {}


def test_a_person_without_a_peppol_id_gets_the_next_channel(
    api: Api, db: Database, access_point: AccessPointSimulator, mailbox: Mailbox
) -> None:
    """Only customers with a Peppol id (a company's organisation number or attributes.peppol_id)."""
    person = customer(api, "3005", delivery_method="einvoice", email="p@example.se")
    invoice = issue(api, person["id"])
    drain(db)
    (email,) = deliveries(api, invoice["id"])
    assert (email["channel"], email["first_channel"], email["state"]) == ("email", "einvoice", "sent")
    response = api.post(f"/invoices/{invoice['id']}/send", {"method": "einvoice"})
    assert response.status_code == 422 and "Peppol" in response.json()["error"]["message"]


def test_a_repeated_submission_is_sent_once(api: Api, db: Database, access_point: AccessPointSimulator) -> None:
    """The access point deduplicates by X-Document-Id: a job rerun after a crash sends nothing new."""
    from kvitt.delivery.channels.einvoice import AccessPointClient, AccessPointConfig
    from kvitt.documents.ubl import invoice_ubl

    buyer = customer(api, "3006", delivery_method="letter", **COMPANY)
    invoice = issue(api, buyer["id"])
    with db.transaction() as session:
        ubl = invoice_ubl(session, api.tenant_id, invoice["id"])
    from kvitt.core.config import get_settings

    settings = get_settings()
    assert settings.peppol_ap_url is not None
    with AccessPointClient(AccessPointConfig(settings.peppol_ap_url, "ap-key")) as client:
        first = client.send(ubl=ubl, sender="0007:5560360793", receiver="0007:5560160680", document_id="kvitt-1-1")
        second = client.send(ubl=ubl, sender="0007:5560360793", receiver="0007:5560160680", document_id="kvitt-1-1")
    assert first.provider_ref == second.provider_ref and len(access_point.documents) == 1


def test_without_an_access_point_the_ubl_is_exported_to_a_folder(
    api: Api, db: Database, delivery_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_env(monkeypatch, KVITT_EINVOICE_DIR=str(tmp_path / "ubl"))
    buyer = customer(api, "3007", delivery_method="einvoice", **COMPANY)
    invoice = issue(api, buyer["id"])
    drain(db)
    (exported,) = (tmp_path / "ubl").iterdir()
    assert exported.name.startswith(f"5560360793-{invoice['number']}-") and exported.suffix == ".xml"
    assert BIS3_CUSTOMIZATION.encode() in exported.read_bytes()
    (delivery,) = deliveries(api, invoice["id"])
    assert delivery["state"] == "sent" and delivery["provider_ref"] == str(exported)
