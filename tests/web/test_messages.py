"""Messages: the recipient writes on the web invoice, staff read and answer through the API.

Each message is an invoice event (``message_received`` from the recipient, ``message_sent``
from staff or the system) and a domain event in the outbox.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.outbox import OutboxJob
from kvitt.invoices.models import InvoiceEvent
from kvitt.web.messages import post_message
from tests.conftest import Api
from tests.web.helpers import (
    form_token,
    issued,
    make_customer,
    make_draft,
    open_page,
    post_form,
    text_of,
    token_of,
)


def message_events(api: Api, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    events = api.get(f"/invoices/{invoice['id']}").json()["events"]
    return [e for e in events if e["type"].startswith("message_")]


def test_recipient_writes_staff_answer_both_on_the_page_and_in_the_api(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    response = post_form(client, invoice, "messages", {"text": "Varför är surfen dyrare?\nMvh Astrid"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/i/{token_of(invoice)}?tab=meddelanden&done=message#conversation"

    listed = api.get(f"/invoices/{invoice['id']}/messages").json()
    assert listed["object"] == "list"
    [received] = listed["data"]
    assert received["author"] == "recipient" and received["text"] == "Varför är surfen dyrare?\nMvh Astrid"
    assert received["invoice"] == invoice["id"]

    answer = api.post(f"/invoices/{invoice['id']}/messages", {"text": "Hej Astrid! Extra surf är 2 × 49 kr."})
    assert answer.status_code == 201, answer.text
    assert answer.json()["author"] == "staff"

    html = open_page(client, invoice, "?tab=meddelanden&done=message")
    assert "Ditt meddelande är skickat." in html
    text = text_of(html)
    assert text.index("Varför är surfen dyrare?") < text.index("Hej Astrid! Extra surf är 2 × 49 kr.")
    assert "Meddelanden (2)" in text and "Norrsken Telekom AB" in text
    assert [(e["type"], e["actor"], e["data"]["text"]) for e in message_events(api, invoice)] == [
        ("message_received", "recipient", "Varför är surfen dyrare?\nMvh Astrid"),
        ("message_sent", "staff", "Hej Astrid! Extra surf är 2 × 49 kr."),
    ]


def test_each_message_is_a_domain_event(api: Api, client: TestClient, db: Database) -> None:
    invoice = issued(api)
    post_form(client, invoice, "messages", {"text": "Hej"})
    api.post(f"/invoices/{invoice['id']}/messages", {"text": "Hej själv"})
    with db.transaction() as session:
        payloads = session.scalars(select(OutboxJob.payload).where(OutboxJob.kind == "domain_event")).all()
    kinds = [p["type"] for p in payloads if p["type"].startswith("invoice.message")]
    assert kinds == ["invoice.message_received", "invoice.message_sent"]


def test_recipient_message_is_mailed_to_staff_when_the_tenant_has_an_email(
    api: Api, client: TestClient, db: Database
) -> None:
    assert api.patch("/tenant", {"email": "kundtjanst@norrsken.se"}).status_code == 200
    invoice = issued(api)
    post_form(client, invoice, "messages", {"text": "Fråga om fakturan"})
    with db.transaction() as session:
        jobs = session.scalars(select(OutboxJob).where(OutboxJob.kind == "delivery.staff_email")).all()
    [job] = jobs
    assert job.payload["to"] == "kundtjanst@norrsken.se"
    assert str(invoice["number"]) in job.payload["subject"] and "Fråga om fakturan" in job.payload["text"]


def test_empty_message_shows_the_error_and_stores_nothing(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    response = post_form(client, invoice, "messages", {"text": "   \r\n "})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text and "Skriv ett meddelande." in response.text
    too_long = post_form(client, invoice, "messages", {"text": "x" * 2001})
    assert too_long.status_code == 422 and "högst 2 000 tecken" in too_long.text
    assert message_events(api, invoice) == []


def test_forms_without_a_valid_token_or_from_another_site_are_refused(api: Api, client: TestClient) -> None:
    invoice, other = issued(api), issued(api, make_customer(api, customer_no="2"))
    open_page(client, other)
    token = token_of(invoice)
    other_form = post_form(client, other, "messages", {"text": "x"}, csrf="0" * 64)
    assert other_form.status_code == 403 and "Ladda om sidan" in other_form.text
    # A token of another invoice does not fit this one.
    page_of_other = open_page(client, other, "?tab=meddelanden")
    foreign = form_token(page_of_other, f"/i/{token_of(other)}/messages")
    assert post_form(client, invoice, "messages", {"text": "x"}, csrf=foreign).status_code == 403
    # The right token, but the browser says the form came from elsewhere.
    html = open_page(client, invoice, "?tab=meddelanden")
    csrf = form_token(html, f"/i/{token}/messages")
    cross = client.post(
        f"/i/{token}/messages",
        data={"csrf": csrf, "text": "x"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert cross.status_code == 403
    assert message_events(api, invoice) == [] and message_events(api, other) == []


def test_form_bodies_are_limited_and_must_be_forms(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    token = token_of(invoice)
    big = client.post(f"/i/{token}/messages", data={"text": "x" * 20_000}, follow_redirects=False)
    assert big.status_code == 413
    as_json = client.post(f"/i/{token}/messages", json={"text": "x"}, follow_redirects=False)
    assert as_json.status_code == 415
    unknown = client.post("/i/unknown-token-unknown-token-123/messages", data={"text": "x"})
    assert unknown.status_code == 404 and "Sidan finns inte" in unknown.text
    assert message_events(api, invoice) == []


def test_post_message_contract(api: Api, db: Database) -> None:
    """kvitt.web.messages.post_message(session, tenant_id, invoice_id, *, author, text) -> dict."""
    customer = make_customer(api)
    invoice = issued(api, customer)
    draft = make_draft(api, customer["id"])
    with db.transaction() as session:
        out = post_message(session, api.tenant_id, invoice["id"], author="system", text=" Påminnelse skickad ")
        assert out["author"] == "system" and out["text"] == "Påminnelse skickad" and out["invoice"] == invoice["id"]
        event = session.get_one(InvoiceEvent, out["id"])
        assert (event.type, event.actor) == ("message_sent", "system")
        with pytest.raises(ValidationFailed):
            post_message(session, api.tenant_id, invoice["id"], author="mallory", text="x")
        with pytest.raises(Conflict):
            post_message(session, api.tenant_id, draft["id"], author="staff", text="x")
        with pytest.raises(NotFound):
            post_message(session, api.tenant_id + 1000, invoice["id"], author="staff", text="x")


def test_api_refuses_empty_and_draft(api: Api) -> None:
    customer = make_customer(api)
    invoice = issued(api, customer)
    draft = make_draft(api, customer["id"])
    assert api.post(f"/invoices/{invoice['id']}/messages", {"text": ""}).status_code == 422
    assert api.post(f"/invoices/{invoice['id']}/messages", {"text": "  "}).status_code == 422
    assert api.post(f"/invoices/{draft['id']}/messages", {"text": "x"}).status_code == 409
    assert api.get(f"/invoices/{invoice['id']}/messages").json()["data"] == []
