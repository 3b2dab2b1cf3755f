"""The recipient's web invoice, ``GET /i/{token}``: the Faktura tab, by token, drafts hidden."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.core.outbox import OutboxJob
from tests.conftest import Api
from tests.invoices.test_api_flow import make_customer, make_draft

NBSP = "\u00a0"


def issued(api: Api, customer: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    customer = customer or make_customer(api)
    draft = make_draft(api, customer["id"], **fields)
    response = api.post(f"/invoices/{draft['id']}/issue")
    assert response.status_code == 200, response.text
    return dict(response.json())


def token_of(invoice: dict[str, Any]) -> str:
    return str(invoice["url"].rsplit("/", 1)[1])


def shows_number(html: str, number: str) -> bool:
    """Whether ``number`` stands on the page as a number of its own.

    A short OCR such as ``133`` also occurs inside the page's random hex tokens (CSRF,
    hashes), so a plain substring test would fail one run in a few hundred.
    """
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(number)}(?![0-9A-Za-z])", html) is not None


def page(client: TestClient, invoice: dict[str, Any]) -> str:
    response = client.get(f"/i/{token_of(invoice)}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_open_invoice_shows_amount_payment_details_and_lines(api: Api, client: TestClient) -> None:
    invoice = issued(api, info=[{"title": "Nytt i mars", "text": "Surfa fritt\npå helgerna"}])
    response = client.get(f"/i/{token_of(invoice)}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["referrer-policy"] == "no-referrer"
    html = response.text
    assert '<html lang="sv"' in html
    assert f"Faktura {invoice['number']}" in html
    assert "Norrsken Telekom AB" in html and "556036-0793" in html
    assert f"612,00{NBSP}kr" in html  # remaining, formatted the Swedish way
    assert "Förfallodatum" in html and invoice["due_date"] in html
    assert "Obetald" in html
    assert invoice["ocr"] in html and "5050-1055" in html and "Så betalar du" in html
    for description in ("Mobilabonnemang Fri", "Extra surf 5 GB", "Tidning"):
        assert description in html
    assert f"316,00{NBSP}kr" in html and f"98,00{NBSP}kr" in html  # unit price and net
    assert f"103,50{NBSP}kr" in html and f"5,34{NBSP}kr" in html  # VAT per rate
    assert f"503,00{NBSP}kr" in html and f"108,84{NBSP}kr" in html  # net and VAT
    assert "Öresavrundning" in html and f"0,16{NBSP}kr" in html
    assert "Astrid Lindqvist" in html
    assert "Nytt i mars" in html and "Surfa fritt\npå helgerna" in html
    # Scripts only from our own files (the CSP allows no inline script), and no third party.
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(re.fullmatch(r'<script src="/i/assets/[\w.-]+\.js" defer>', tag) for tag in scripts)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    # The stylesheet is a file named by its digest, cached a year (shared by every invoice the
    # phone opens), not inline: the CSP allows styles from our own address only.
    assert "<style" not in html and "style-src 'self';" in response.headers["content-security-policy"]
    (sheet,) = re.findall(r'<link rel="stylesheet" href="(/i/assets/kvitt\.([0-9a-f]{10})\.css)">', html)
    served = client.get(sheet[0])
    assert served.status_code == 200 and served.headers["content-type"] == "text/css; charset=utf-8"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hashlib.sha256(served.content).hexdigest()[:10] == sheet[1] and b"--accent:" in served.content
    assert len(response.content) < 60_000


def test_english_customer_reads_english(api: Api, client: TestClient) -> None:
    customer = make_customer(api, customer_no="2002", name="John Smith", language="en")
    html = page(client, issued(api, customer))
    assert '<html lang="en"' in html
    assert "Invoice " in html and "Due date" in html and "Amount to pay" in html and "Unpaid" in html
    assert "How to pay" in html and "OCR reference" in html
    assert "Förfallodatum" not in html and "Obetald" not in html


def test_partly_paid_shows_what_is_left(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    api.post(f"/invoices/{invoice['id']}/payments", {"amount": 20000})
    html = page(client, invoice)
    assert "Delvis betald" in html
    assert f"412,00{NBSP}kr" in html and f"\u2212200,00{NBSP}kr" in html
    assert "Mottagna betalningar" in html
    assert invoice["ocr"] in html


def test_paid_invoice_says_so_and_hides_payment_details(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    paid = api.post(f"/invoices/{invoice['id']}/payments", {"amount": invoice["remaining"]}).json()
    assert paid["state"] == "paid"
    html = page(client, invoice)
    assert "Betald" in html and "Fakturan är betald" in html
    assert "Så betalar du" not in html
    assert not shows_number(html, invoice["ocr"]) and "5050-1055" not in html
    assert "Att betala" not in html


def test_credited_invoice_and_its_credit_note(api: Api, client: TestClient) -> None:
    invoice = issued(api)
    note = api.post(f"/invoices/{invoice['id']}/credit").json()
    html = page(client, invoice)
    assert "Krediterad" in html and "Så betalar du" not in html
    assert not shows_number(html, invoice["ocr"])
    note_html = page(client, note)
    assert f"Kreditfaktura {note['number']}" in note_html
    assert f"\u2212612,00{NBSP}kr" in note_html
    assert "Krediterar faktura" in note_html and "Så betalar du" not in note_html


def test_unknown_malformed_and_draft_tokens_get_one_404(api: Api, client: TestClient) -> None:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"])
    existing = token_of(issued(api, customer))
    unknown = ("A" if existing[0] != "A" else "B") + existing[1:]
    answers = [
        client.get(f"/i/{token}")
        for token in (token_of(draft), unknown, "not a token", "%3Cscript%3E", "x" * 200, "a.b")
    ]
    assert {response.status_code for response in answers} == {404}
    assert len({response.text for response in answers}) == 1
    body = answers[0].text
    assert answers[0].headers["content-type"].startswith("text/html")
    assert "Sidan finns inte" in body and "Page not found" in body
    assert token_of(draft) not in body and "Mobilabonnemang" not in body


def test_descriptions_are_escaped(api: Api, client: TestClient) -> None:
    lines = [{"description": "<script>alert(1)</script>", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]
    html = page(client, issued(api, lines=lines, info=[{"title": "<b>x</b>", "text": "<img src=x>"}]))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html and "<img" not in html


def test_a_page_view_changes_nothing_on_the_invoice(api: Api, client: TestClient, db: Database) -> None:
    """Viewing records an ``opened`` event (tests/web/test_visits.py) and nothing else."""
    invoice = issued(api)
    stored = api.get(f"/invoices/{invoice['id']}").json()
    for _ in range(3):
        page(client, invoice)
    client.get("/i/unknown-token-unknown-token-123")
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert [e["type"] for e in after.pop("events")] == [e["type"] for e in stored.pop("events")] + ["opened"]
    assert after == stored
    with db.transaction() as session:
        jobs = session.scalars(select(OutboxJob.payload)).all()
    assert sum(1 for payload in jobs if payload.get("type") == "invoice.opened") == 1
