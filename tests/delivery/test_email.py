"""Email end to end: issue → job → a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kvitt.core.db import Database
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, event_types, issue, set_env
from tests.loopback import Mailbox


def test_an_issued_invoice_is_emailed_in_swedish_with_the_web_invoice_link(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    astrid = customer(api, "1001", email="astrid@example.se", delivery_method="email")
    invoice = issue(api, astrid["id"])
    drain(db)

    (message,) = mailbox.to("astrid@example.se")
    assert message["Subject"] == f"Faktura {invoice['number']} från Norrsken Telekom AB"
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Norrsken Telekom AB", "faktura@kvitt.test")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    token_link = [w for w in text.split() if w.startswith("https://kvitt.test/i/")]
    assert token_link == [invoice["url"]] and f'href="{invoice["url"]}"' in html
    assert "Att betala: 395,00" in text and invoice["ocr"] in text and "Förfallodag" in text
    assert 'lang="sv"' in html and "Visa och betala fakturan" in html
    assert not [part for part in message.iter_attachments()]

    (delivery,) = deliveries(api, invoice["id"])
    assert delivery["channel"] == "email" and delivery["state"] == "sent"
    assert delivery["provider_ref"] == message["Message-ID"]
    assert "sent" in event_types(api, invoice["id"])


def test_english_customers_get_english_and_the_pdf_when_the_tenant_wants_it(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    assert api.patch("/delivery/settings", {"attach_pdf": True}).json()["attach_pdf"] is True
    john = customer(api, "1002", name="John Smith", email="john@example.com", language="en", delivery_method="email")
    invoice = issue(api, john["id"])
    drain(db)

    (message,) = mailbox.to("john@example.com")
    assert message["Subject"] == f"Invoice {invoice['number']} from Norrsken Telekom AB"
    assert "Amount due" in message.get_body(preferencelist=("plain",)).get_content()
    assert 'lang="en"' in message.get_body(preferencelist=("html",)).get_content()
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"faktura-{invoice['number']}.pdf"
    assert attachment.get_content().startswith(b"%PDF-")


def test_a_temporary_smtp_refusal_is_retried_and_a_permanent_one_falls_back_to_a_letter(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    """RFC 5321 §4.2.1: 4yz replies are transient (retry), 5yz permanent (do not repeat)."""
    mailbox.refuse["busy@example.se"] = "451 4.3.0 Try again later"
    mailbox.refuse["gone@example.se"] = "550 5.1.1 No such user"
    busy = customer(api, "1003", email="busy@example.se", delivery_method="email")
    gone = customer(api, "1004", email="gone@example.se", delivery_method="email")
    busy_invoice = issue(api, busy["id"])
    gone_invoice = issue(api, gone["id"])
    from kvitt.worker import Worker

    Worker(db, worker_id="w").run_until_idle()  # the domain events, then the first tries
    (first,) = deliveries(api, busy_invoice["id"])
    assert first["state"] == "pending"  # waiting for its retry, not failed
    del mailbox.refuse["busy@example.se"]
    drain(db)

    assert [d["state"] for d in deliveries(api, busy_invoice["id"])] == ["sent"]
    assert len(mailbox.to("busy@example.se")) == 1
    failed, letter = deliveries(api, gone_invoice["id"])
    assert (failed["channel"], failed["state"]) == ("email", "failed") and "550" in failed["error"]
    assert (letter["channel"], letter["state"], letter["reason"]) == ("letter", "sent", "fallback")
    assert event_types(api, gone_invoice["id"])[-2:] == ["delivery_failed", "letter_sent"]


def test_a_bounce_reported_by_message_id_fails_the_email_and_sends_a_letter(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any], tmp_path: Path
) -> None:
    astrid = customer(api, "1005", email="astrid@example.se", delivery_method="email")
    invoice = issue(api, astrid["id"])
    drain(db)
    (message,) = mailbox.to("astrid@example.se")

    bounce = api.post("/delivery/bounces", {"message_id": message["Message-ID"], "reason": "mailbox full"})
    assert bounce.status_code == 200, bounce.text
    assert bounce.json()["state"] == "failed"
    drain(db)

    email, letter = deliveries(api, invoice["id"])
    assert email["error"] == "bounced: mailbox full"
    assert letter["channel"] == "letter" and letter["state"] == "sent"
    (batch,) = [p for p in (tmp_path / "print" / "5560360793").iterdir()]
    assert (batch / "0001.pdf").read_bytes().startswith(b"%PDF-")
    # The same bounce again (mail systems repeat themselves) changes nothing.
    again = api.post("/delivery/bounces", {"message_id": message["Message-ID"], "reason": "mailbox full"})
    assert again.status_code == 200
    drain(db)
    assert len(deliveries(api, invoice["id"])) == 2
    assert event_types(api, invoice["id"]).count("delivery_failed") == 1


def test_a_bounce_for_an_unknown_message_is_not_found(api: Api, delivery_env: dict[str, Any]) -> None:
    response = api.post("/delivery/bounces", {"message_id": "<nobody@example>"})
    assert response.status_code == 404
    response = api.post("/delivery/bounces", {})
    assert response.status_code == 422 and response.json()["error"]["param"] == "message_id"


def test_an_unreachable_smtp_server_keeps_the_email_waiting_then_falls_back(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.loopback import free_port

    set_env(monkeypatch, KVITT_SMTP_PORT=str(free_port()))  # nothing listens there
    astrid = customer(api, "1006", email="astrid@example.se", delivery_method="email")
    invoice = issue(api, astrid["id"])
    drain(db)
    email, letter = deliveries(api, invoice["id"])
    assert email["state"] == "failed" and email["error"].startswith("gave up after 4 attempts")
    assert letter["state"] == "sent"
    assert mailbox.messages == []


def test_an_email_job_run_inside_an_event_loop_still_sends(
    api: Api, db: Database, mailbox: Mailbox, delivery_env: dict[str, Any]
) -> None:
    """A worker run from an async request handler (the test clock) must not trip over asyncio.run."""
    import asyncio

    astrid = customer(api, "1007", email="astrid@example.se", delivery_method="email")
    issue(api, astrid["id"])

    async def inside_a_loop() -> None:
        drain(db)

    asyncio.run(inside_a_loop())
    assert len(mailbox.to("astrid@example.se")) == 1
