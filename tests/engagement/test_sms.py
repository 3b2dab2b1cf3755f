"""Engagement by SMS, against the 46elks simulator over HTTP (no mock):

- an offer on the ``sms`` channel rides in the invoice SMS as its short call to action with
  Kvitt's click link (``/e/<token>``); one impression when the SMS is sent, none more when it is
  resent; the click goes through the redirect and counts;
- Mina sidor's magic link by SMS, to the phone on file only (a number typed in the form is
  never used), rate-limited per customer, with the same token rules as the email link.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.delivery import messages
from kvitt.delivery import service as delivery
from kvitt.engagement import recipient
from kvitt.engagement.models import RecipientLink
from kvitt.simulators import serve_in_thread
from kvitt.simulators.sms_46elks import Elks46Simulator
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, issue, set_env
from tests.engagement.helpers import OFFER_URL, count_events, medium_segment, placement, upgrade_offer
from tests.segments.isolation_cases import PERIOD
from tests.web.helpers import form_token, open_page, token_of


@pytest.fixture
def elks(
    db: Database, settings: Settings, delivery_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Elks46Simulator]:
    """The simulator, and Kvitt served on loopback for its delivery reports."""
    simulator = Elks46Simulator(users={"u1234": "secret"})
    kvitt = serve_in_thread(create_app(settings, db, embedded_worker=False))
    sms_server = serve_in_thread(simulator.app())
    set_env(
        monkeypatch,
        KVITT_SMS_URL=sms_server.url,
        KVITT_SMS_USER="u1234",
        KVITT_SMS_PASSWORD="secret",
        KVITT_PUBLIC_URL=kvitt.url,
    )
    try:
        yield simulator
    finally:
        sms_server.stop()
        kvitt.stop()


def sent_to(simulator: Elks46Simulator, number: str) -> list[str]:
    return [str(sms["message"]) for sms in simulator.sent if sms["to"] == number]


def test_an_sms_offer_carries_its_call_to_action_and_click_link_counted_once(
    api: Api, client: TestClient, db: Database, elks: Elks46Simulator
) -> None:
    offer = upgrade_offer(api, medium_segment(api), channels=["sms", "web"])
    # Neither an information block nor a web-only offer goes into an SMS.
    placement(api, "info", "Ditt avtal", channels=["sms"])
    placement(api, "offer", "Bara webb", url=OFFER_URL, channels=["web"])
    inside = customer(api, "6001", phone="070-123 45 67", delivery_method="sms", attributes={"plan": "Medium"})
    outside = customer(api, "6002", phone="070-765 43 21", delivery_method="sms", attributes={"plan": "Bas"})
    invoice, other = issue(api, inside["id"]), issue(api, outside["id"])
    drain(db)

    (message,) = sent_to(elks, "+46701234567")
    link = re.search(r"Uppgradera nu: (\S+)$", message)
    assert link is not None, message
    assert link.group(1).endswith(f"/e/{token_of(invoice)}.{offer['id']}.s")  # the link names its channel
    assert message.startswith(f"Norrsken Telekom AB: faktura {invoice['number']}, 395,00")
    assert "Ditt avtal" not in message and "Bara webb" not in message
    (plain,) = sent_to(elks, "+46707654321")
    assert "/e/" not in plain and len(plain) <= 160
    assert count_events(db, channel="sms", kind="impression", invoice_id=invoice["id"]) == 1
    assert count_events(db, channel="sms", kind="impression", invoice_id=other["id"]) == 0

    assert api.post(f"/invoices/{invoice['id']}/send", {"method": "sms"}).status_code == 202
    drain(db)
    assert len(sent_to(elks, "+46701234567")) == 2  # sent again, with the offer ...
    assert "Uppgradera nu: " in sent_to(elks, "+46701234567")[1]
    assert count_events(db, channel="sms", kind="impression", invoice_id=invoice["id"]) == 1  # ... counted once
    assert all(d["channel"] == "sms" and d["state"] in ("sent", "delivered") for d in deliveries(api, invoice["id"]))

    path = link.group(1)[link.group(1).index("/e/") :]
    clicked = client.get(path, follow_redirects=False)
    assert clicked.status_code == 302 and clicked.headers["location"] == OFFER_URL
    assert count_events(db, kind="click", placement_id=offer["id"], invoice_id=invoice["id"], channel="sms") == 1


def remind(db: Database, tenant_id: int, invoices: list[dict[str, Any]], reminder_id: int) -> None:
    """A reminder's delivery of each invoice, as the dunning tick's job asks for it."""
    with db.transaction() as session:
        for invoice in invoices:
            delivery.request_delivery(
                session, tenant_id, invoice["id"], reason="reminder", reminder_id=reminder_id + invoice["id"]
            )


def offer_by_sms(api: Api, **fields: Any) -> dict[str, Any]:
    return upgrade_offer(api, None, cta="Byt nu", channels=["sms"], **fields)


def test_a_reminder_sms_carries_the_offer_and_its_click_counts_for_sms(
    api: Api, client: TestClient, db: Database, elks: Elks46Simulator
) -> None:
    astrid = customer(api, "6201", phone="070-123 45 67", delivery_method="sms")
    invoice = issue(api, astrid["id"])
    drain(db)  # the invoice's own SMS, before any offer
    offer = offer_by_sms(api)
    remind(db, api.tenant_id, [invoice], reminder_id=100)
    drain(db)

    first, reminder = sent_to(elks, "+46701234567")
    assert "/e/" not in first
    assert reminder.startswith(f"Norrsken Telekom AB: påminnelse, faktura {invoice['number']}")
    link = re.search(r"\nByt nu: (\S+)$", reminder)
    assert link is not None and link.group(1).endswith(f"/e/{token_of(invoice)}.{offer['id']}.s"), reminder
    assert count_events(db, channel="sms", kind="impression", invoice_id=invoice["id"]) == 1
    path = link.group(1)[link.group(1).index("/e/") :]
    assert client.get(path, follow_redirects=False).headers["location"] == OFFER_URL
    assert count_events(db, kind="click", invoice_id=invoice["id"], channel="sms") == 1
    row = next(r for r in api.get("/reports/engagement", params=PERIOD).json()["data"] if r["placement"] == offer["id"])
    assert row["channels"] == {"sms": {"impressions": 1, "clicks": 1, "ctr": "1.0000"}}


def test_reminder_sms_keep_to_the_cap_per_customer_within_one_batch_and_after(
    api: Api, db: Database, elks: Elks46Simulator
) -> None:
    bo = customer(api, "6202", phone="070-765 43 21", delivery_method="sms")
    invoices = [issue(api, bo["id"]), issue(api, bo["id"])]
    drain(db)
    offer = offer_by_sms(api, cap_per_customer=1)
    remind(db, api.tenant_id, invoices, reminder_id=200)  # two reminders to Bo in one batch
    drain(db)
    reminders = sent_to(elks, "+46707654321")[2:]
    assert len(reminders) == 2
    assert sum("Byt nu: " in text for text in reminders) == 1  # the cap allows one showing
    assert count_events(db, kind="impression", placement_id=offer["id"]) == 1
    remind(db, api.tenant_id, invoices, reminder_id=300)
    drain(db)
    later = sent_to(elks, "+46707654321")[4:]
    assert len(later) == 2 and not any("/e/" in text for text in later)  # the cap is used up
    assert count_events(db, kind="impression", placement_id=offer["id"]) == 1


def test_a_credit_note_sms_carries_the_offer_and_a_long_call_to_action_is_cut() -> None:
    facts = messages.InvoiceFacts(
        issuer="Norrsken",
        name="Astrid",
        number=7,
        amount_ore=39500,
        due_date="2026-12-31",
        ocr="133",
        bankgiro=None,
        url="https://kvitt.test/i/x",
        credit_note=True,
        placements=[{"title": "T", "text": "", "cta": "Köp", "link": "https://kvitt.test/e/x.1.s"}],
    )
    assert messages.sms_text(facts, "sv").endswith("\nKöp: https://kvitt.test/e/x.1.s")
    facts.credit_note = False
    facts.placements[0]["cta"] = "Ett mycket långt erbjudande som inte får plats i ett sms alls"
    text = messages.sms_text(facts, "sv")
    assert text.endswith(": https://kvitt.test/e/x.1.s") and "..." in text and "\u2026" not in text


# --- Mina sidor by SMS ------------------------------------------------------------------------------


def ask_for_link(client: TestClient, invoice: dict[str, Any], **fields: str) -> str:
    action = f"/i/{token_of(invoice)}/mina-sidor"
    csrf = form_token(open_page(client, invoice), action)
    answer = client.post(action, data={"csrf": csrf, **fields}, follow_redirects=False)
    assert answer.status_code == 303
    return str(answer.headers["location"])


def test_mina_sidor_link_by_sms_goes_to_the_phone_on_file_only(
    api: Api, client: TestClient, db: Database, elks: Elks46Simulator
) -> None:
    astrid = customer(api, "6101", phone="070-123 45 67", email="astrid@example.se")
    invoice = issue(api, astrid["id"])
    drain(db)  # the invoice's own delivery
    before = len(elks.sent)
    location = ask_for_link(client, invoice, via="sms", to="+46709999999", phone="+46709999999")
    assert location.endswith("done=mypages_sms#mina-sidor")
    drain(db)
    (message,) = [sms for sms in elks.sent[before:]]
    assert message["to"] == "+46701234567"  # the number on file, not the one in the form
    assert message["message"].startswith("Norrsken Telekom AB: din länk till Mina sidor (gäller 7 dagar): ")
    token = re.search(r"/m/([A-Za-z0-9_-]+)$", message["message"])
    assert token is not None and len(token.group(1)) >= 43  # 256 random bits
    page = client.get(f"/m/{token.group(1)}")
    assert page.status_code == 200 and f"/i/{token_of(invoice)}" in page.text
    with db.read() as session:
        (link,) = session.scalars(select(RecipientLink))
    assert link.channel == "sms" and token.group(1) not in link.token_hash
    assert client.get(f"/m/{token.group(1)[:-2]}xx").status_code == 404
    assert "Om vi har ditt mobilnummer" in open_page(client, invoice, "?done=mypages_sms")


def test_no_phone_on_file_gets_the_same_answer_and_no_sms(
    api: Api, client: TestClient, db: Database, elks: Elks46Simulator
) -> None:
    nils = customer(api, "6102", email="nils@example.se")
    invoice = issue(api, nils["id"])
    drain(db)
    before = len(elks.sent)
    assert ask_for_link(client, invoice, via="sms", phone="+46709999999").endswith("done=mypages_sms#mina-sidor")
    drain(db)
    assert elks.sent[before:] == []
    with db.read() as session:
        assert session.scalar(select(func.count(RecipientLink.id))) == 0


def test_links_are_rate_limited_per_customer_over_both_channels(
    api: Api, client: TestClient, db: Database, elks: Elks46Simulator
) -> None:
    astrid = customer(api, "6103", phone="070-123 45 67", email="astrid@example.se")
    invoice = issue(api, astrid["id"])
    drain(db)
    before = len(elks.sent)
    answers = [ask_for_link(client, invoice, via=via) for via in ("sms", "email", "sms", "sms", "email")]
    assert all("done=mypages" in answer for answer in answers)  # the same answer, limited or not
    drain(db)
    with db.read() as session:
        links = list(session.scalars(select(RecipientLink).order_by(RecipientLink.id)))
    assert [link.channel for link in links] == ["sms", "email", "sms"]
    assert len(links) == recipient.LINKS_PER_HOUR
    assert len(elks.sent[before:]) == 2
