"""What one impression is, per channel (docs/engagement.md, "Measured"):

- web: once per invoice view; a reload within the visit (30 minutes) counts nothing, a view
  after it counts again, also when the browser's copy is still good (304); an email sent a
  minute before does not make the first view a reload;
- email: once per invoice and placement, when the email is sent; a resend counts nothing;
- PDF/letter: once when the letter is printed (or the PDF is attached to an email that is
  sent); a download and a second letter count nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.core.outbox import enqueue
from kvitt.delivery.jobs import PRINT_SWEEP_JOB
from kvitt.engagement.models import EngagementEvent
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, issue
from tests.engagement.helpers import count_events, medium_segment, placement, upgrade_offer
from tests.loopback import Mailbox
from tests.web.helpers import token_of


def impressions(db: Database, invoice: dict[str, Any], channel: str) -> int:
    return count_events(db, invoice_id=invoice["id"], kind="impression", channel=channel)


def placements(api: Api, channels: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An offer and an information block for the segment "Medium" on ``channels``."""
    segment = medium_segment(api)
    offer = upgrade_offer(api, segment, channels=channels, priority=1)
    info = placement(api, "info", "Ditt avtal", segment, channels=channels, priority=2)
    return offer, info


def age_impressions(db: Database, invoice: dict[str, Any], by: timedelta) -> None:
    with db.transaction() as session:
        for event in session.scalars(select(EngagementEvent).where(EngagementEvent.invoice_id == invoice["id"])):
            event.at -= by


def test_a_resent_email_counts_no_second_impression_and_the_web_view_counts_its_own(
    api: Api, client: TestClient, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    placements(api, ["web", "email"])
    astrid = customer(api, "5001", email="astrid@example.se", delivery_method="email", attributes={"plan": "Medium"})
    invoice = issue(api, astrid["id"])
    drain(db)
    assert impressions(db, invoice, "email") == 2  # the offer and the information

    resent = api.post(f"/invoices/{invoice['id']}/send", {"method": "email"})
    assert resent.status_code == 202, resent.text
    drain(db)
    first, second = mailbox.to("astrid@example.se")
    for message in (first, second):  # both carry the offer ...
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and "Uppgradera nu:" in body.get_content()
    assert [d["state"] for d in deliveries(api, invoice["id"])] == ["sent", "sent"]
    assert impressions(db, invoice, "email") == 2  # ... the same invoice's: counted once

    # The recipient opens the web invoice a minute after the email: a view of its own.
    assert client.get(f"/i/{token_of(invoice)}").status_code == 200
    assert impressions(db, invoice, "web") == 2
    assert impressions(db, invoice, "email") == 2


def test_a_web_view_counts_once_per_visit_and_again_after_it_even_from_the_browsers_copy(
    api: Api, client: TestClient, db: Database
) -> None:
    placements(api, ["web"])
    astrid = customer(api, "5002", attributes={"plan": "Medium"})
    invoice = issue(api, astrid["id"])
    page = client.get(f"/i/{token_of(invoice)}")
    etag = page.headers["etag"]
    assert impressions(db, invoice, "web") == 2

    again = client.get(f"/i/{token_of(invoice)}")  # a reload
    cached = client.get(f"/i/{token_of(invoice)}", headers={"If-None-Match": etag})  # the browser's copy
    assert (again.status_code, cached.status_code) == (200, 304)
    assert impressions(db, invoice, "web") == 2

    age_impressions(db, invoice, timedelta(minutes=31))  # the visit is over
    cached = client.get(f"/i/{token_of(invoice)}", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert impressions(db, invoice, "web") == 4  # a new visit, shown from the browser's copy
    client.get(f"/i/{token_of(invoice)}", headers={"If-None-Match": etag})
    assert impressions(db, invoice, "web") == 4


def test_a_letter_counts_its_placements_once_a_download_and_a_second_letter_nothing(
    api: Api, client: TestClient, db: Database, delivery_env: dict[str, Any], tmp_path: Path
) -> None:
    placements(api, ["pdf"])
    inside = customer(api, "5003", delivery_method="letter", attributes={"plan": "Medium"})
    outside = customer(api, "5004", delivery_method="letter", attributes={"plan": "Bas"})
    invoice, other = issue(api, inside["id"]), issue(api, outside["id"])
    assert api.get(f"/invoices/{invoice['id']}/pdf").status_code == 200  # made, not delivered
    assert client.get(f"/i/{token_of(invoice)}/pdf").status_code == 200
    assert impressions(db, invoice, "pdf") == 0

    drain(db)  # the print batch
    assert [d["state"] for d in deliveries(api, invoice["id"])] == ["sent"]
    assert impressions(db, invoice, "pdf") == 2
    assert impressions(db, other, "pdf") == 0

    assert api.post(f"/invoices/{invoice['id']}/send", {"method": "letter"}).status_code == 202
    with db.transaction() as session:  # the next print batch (this slot's has run already)
        enqueue(session, PRINT_SWEEP_JOB, {}, tenant_id=api.tenant_id)
    drain(db)
    assert [d["state"] for d in deliveries(api, invoice["id"])] == ["sent", "sent"]
    assert impressions(db, invoice, "pdf") == 2
    assert api.get(f"/invoices/{invoice['id']}/pdf").status_code == 200
    assert impressions(db, invoice, "pdf") == 2


def test_the_pdf_attached_to_an_email_counts_as_the_pdf_channel_when_the_email_is_sent(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    placements(api, ["pdf"])
    assert api.patch("/delivery/settings", {"attach_pdf": True}).status_code == 200
    astrid = customer(api, "5005", email="astrid@example.se", delivery_method="email", attributes={"plan": "Medium"})
    invoice = issue(api, astrid["id"])
    drain(db)
    (message,) = mailbox.to("astrid@example.se")
    assert any(part.get_content_type() == "application/pdf" for part in message.iter_attachments())
    assert impressions(db, invoice, "pdf") == 2
    assert impressions(db, invoice, "email") == 0  # the placements are for paper only
    assert api.post(f"/invoices/{invoice['id']}/send", {"method": "email"}).status_code == 202
    drain(db)
    assert len(mailbox.to("astrid@example.se")) == 2
    assert impressions(db, invoice, "pdf") == 2


def test_an_email_that_is_not_sent_counts_nothing(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    placements(api, ["email"])
    nobody = customer(api, "5006", delivery_method="email", attributes={"plan": "Medium"})  # no address
    invoice = issue(api, nobody["id"])
    drain(db)
    assert all(d["state"] != "sent" or d["channel"] != "email" for d in deliveries(api, invoice["id"]))
    assert impressions(db, invoice, "email") == 0
