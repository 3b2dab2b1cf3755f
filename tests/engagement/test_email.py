"""Placements in the invoice email: the segment's customer gets the offer (through the click
redirect) and the information with their values, escaped in HTML; others get none; each is an
impression on the email channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kvitt.core.db import Database
from kvitt.engagement.models import EngagementEvent
from tests.conftest import Api
from tests.delivery.conftest import customer, drain, issue
from tests.engagement.helpers import medium_segment, placement, upgrade_offer
from tests.loopback import Mailbox


def test_the_invoice_email_carries_the_placements_that_fit(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    inside = customer(
        api,
        "1001",
        email="astrid@example.se",
        delivery_method="email",
        attributes={"plan": "Medium", "end": "<b>2027</b>"},
    )
    outside = customer(api, "1002", email="bo@example.se", delivery_method="email", attributes={"plan": "Bas"})
    segment = medium_segment(api)
    offer = upgrade_offer(api, segment, channels=["web", "email"])
    placement(api, "info", "Ditt avtal", segment, text="Går ut {end}.", channels=["email"])
    placement(api, "info", "Bara på webben", channels=["web"])
    invoice = issue(api, inside["id"])
    issue(api, outside["id"])
    drain(db)

    (message,) = mailbox.to("astrid@example.se")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    token = invoice["url"].rsplit("/", 1)[1]
    link = f"https://kvitt.test/e/{token}.{offer['id']}.e"  # the click link names its channel
    assert f"Uppgradera nu: {link}" in text and "Går ut <b>2027</b>." in text
    assert f'href="{link}"' in html and "Går ut &lt;b&gt;2027&lt;/b&gt;." in html
    assert "Bara på webben" not in text
    (other,) = mailbox.to("bo@example.se")
    assert "Uppgradera" not in other.get_body(preferencelist=("plain",)).get_content()
    with db.read() as session:
        channels = session.scalar(
            select(func.count(EngagementEvent.id)).where(
                EngagementEvent.channel == "email", EngagementEvent.kind == "impression"
            )
        )
    assert channels == 2
