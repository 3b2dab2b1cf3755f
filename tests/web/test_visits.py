"""Opening the web invoice: first and last opened, at most one ``opened`` event a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.invoices.models import Invoice, InvoiceEvent
from kvitt.web import visits
from kvitt.web.models import WebInvoiceVisit
from tests.conftest import Api
from tests.web.helpers import issued, make_customer, open_page


def opened_events(db: Database, invoice_id: int) -> list[InvoiceEvent]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice_id, InvoiceEvent.type == "opened")
            )
        )


def test_views_are_one_opened_event_a_day_and_the_api_shows_first_and_last(
    api: Api, client: TestClient, db: Database
) -> None:
    invoice = issued(api)
    before = api.get(f"/invoices/{invoice['id']}/web").json()
    assert before["first_opened_at"] is None and before["last_opened_at"] is None
    assert before["url"] == invoice["url"]
    for query in ("", "?tab=meddelanden", "?tab=installningar", "?lang=en", ""):
        open_page(client, invoice, query)
    events = opened_events(db, invoice["id"])
    assert [(e.actor, e.data) for e in events] == [("recipient", {"via": "web", "first": True})]
    after = api.get(f"/invoices/{invoice['id']}/web").json()
    assert after["first_opened_at"] is not None
    assert after["first_opened_at"] <= after["last_opened_at"]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_record_view_day_by_day(api: Api, db: Database) -> None:
    invoice_id = issued(api)["id"]

    def view(now: datetime) -> WebInvoiceVisit:
        with db.transaction() as session:
            return visits.record_view(session, session.get_one(Invoice, invoice_id), now)

    first = view(at(2, 9))
    assert first.first_opened_at == first.last_opened_at == at(2, 9)
    # Within the minute: nothing written; later the same day: last opened moves, no new event.
    assert view(at(2, 9) + timedelta(seconds=30)).last_opened_at == at(2, 9)
    assert view(at(2, 15)).last_opened_at == at(2, 15)
    assert len(opened_events(db, invoice_id)) == 1
    # 23:30 UTC on 2 March is 00:30 on 3 March in Stockholm: a new Swedish day, a new event.
    late = view(at(2, 23, 30))
    assert late.last_event_on.isoformat() == "2026-03-03" and late.first_opened_at == at(2, 9)
    view(at(3, 10))
    assert [e.data["first"] for e in opened_events(db, invoice_id)] == [True, False]
    view(at(5, 8))
    assert len(opened_events(db, invoice_id)) == 3


def test_form_tokens_are_per_invoice_and_purpose(api: Api, db: Database) -> None:
    customer = make_customer(api)
    one, two = issued(api, customer)["id"], issued(api, customer)["id"]
    with db.transaction() as session:
        a = visits.record_view(session, session.get_one(Invoice, one), at(2, 9))
        b = visits.record_view(session, session.get_one(Invoice, two), at(2, 9))
        token = visits.form_token(a, "message")
        assert visits.is_valid_form_token(a, "message", token)
        assert not visits.is_valid_form_token(a, "settings", token)
        assert not visits.is_valid_form_token(b, "message", token)
        assert not visits.is_valid_form_token(a, "message", "")
        assert not visits.is_valid_form_token(None, "message", token)
