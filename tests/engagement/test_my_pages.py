"""Mina sidor: a magic link to the email on file opens every invoice of the customer, and the
same engagement area; forged, expired or other customers' links open nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import OutboxJob
from kvitt.engagement.models import RecipientLink
from tests.conftest import Api
from tests.segments.isolation_cases import _created
from tests.web.helpers import form_token, issued, open_page, text_of, token_of


def _customer(api: Api, no: str, **fields: Any) -> dict[str, Any]:
    body = {"customer_no": no, "name": f"Kund {no}", "email": f"{no.lower()}@example.se", **fields}
    return _created(api.post("/customers", body))


def ask_for_link(client: TestClient, invoice: dict[str, Any]) -> Any:
    action = f"/i/{token_of(invoice)}/mina-sidor"
    csrf = form_token(open_page(client, invoice), action)
    return client.post(action, data={"csrf": csrf}, follow_redirects=False)


def mailed_links(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        jobs = session.scalars(select(OutboxJob).where(OutboxJob.kind == "delivery.staff_email").order_by(OutboxJob.id))
        return [(j.payload["to"], re.search(r"/m/([A-Za-z0-9_-]+)", j.payload["text"]).group(1)) for j in jobs]  # type: ignore[union-attr]


def test_a_magic_link_opens_all_of_the_customers_invoices_and_nothing_else(
    client: TestClient, api: Api, db: Database
) -> None:
    astrid = _customer(api, "A1", attributes={"plan": "Medium"})
    first, second = issued(api, astrid), issued(api, astrid)
    other = issued(api, _customer(api, "B1"))
    _created(api.post("/placements", {"kind": "info", "title": "Nyhet för dig", "text": "Hej {name}!"}))
    answer = ask_for_link(client, second)
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=mypages#mina-sidor")
    ((to, token),) = mailed_links(db)
    assert to == "a1@example.se"
    page = client.get(f"/m/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = text_of(page.text)
    assert f"/i/{token_of(first)}" in page.text and f"/i/{token_of(second)}" in page.text
    assert token_of(other) not in page.text
    assert "Nyhet för dig" in text and "Hej Kund A1!" in text
    assert client.get(f"/m/{token[:-2]}xx").status_code == 404
    with db.transaction() as session:
        session.execute(update(RecipientLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert client.get(f"/m/{token}").status_code == 404


def test_no_address_on_file_gets_the_same_answer_and_no_mail(client: TestClient, api: Api, db: Database) -> None:
    invoice = issued(api, _created(api.post("/customers", {"customer_no": "N1", "name": "Utan Adress"})))
    answer = ask_for_link(client, invoice)
    assert answer.status_code == 303 and "done=mypages" in answer.headers["location"]
    assert mailed_links(db) == []


def test_a_forged_form_sends_nothing(client: TestClient, api: Api, db: Database) -> None:
    invoice = issued(api, _customer(api, "F1"))
    open_page(client, invoice)
    answer = client.post(f"/i/{token_of(invoice)}/mina-sidor", data={"csrf": "0" * 64}, follow_redirects=False)
    assert "done=refused" in answer.headers["location"]
    assert mailed_links(db) == []
