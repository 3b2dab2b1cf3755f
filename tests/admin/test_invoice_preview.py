"""Fakturor: the invoice page frames a preview of the web invoice,
``/admin/fakturor/{id}/forhandsvisning``: the recipient's page made by the web invoice's own view
and template (its offers included), for staff who may open the invoice, of their own tenant
only, framed by the back office only — and a look counts nothing: no visit, no ``opened`` event,
no impression (the recipient's own view, beside it, counts all three)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kvitt.core.db import Database
from kvitt.invoices.models import InvoiceEvent
from kvitt.web.models import WebInvoiceVisit
from tests.admin.conftest import Staff, make_customer, make_issued
from tests.engagement.helpers import UPGRADE, count_events, upgrade_offer
from tests.web.helpers import token_of


def counted(db: Database, invoice_id: int) -> tuple[int, int, int]:
    """The invoice's visits, ``opened`` events and engagement impressions."""
    with db.read() as session:
        visits = session.scalar(select(func.count()).where(WebInvoiceVisit.invoice_id == invoice_id))
        opened = session.scalar(
            select(func.count()).where(InvoiceEvent.invoice_id == invoice_id, InvoiceEvent.type == "opened")
        )
    return int(visits or 0), int(opened or 0), count_events(db, invoice_id=invoice_id, kind="impression")


@pytest.fixture
def invoice(api: Any) -> dict[str, Any]:
    upgrade_offer(api, None, channels=["web"])  # an offer for everyone: the page would count it
    return make_issued(api, make_customer(api, "K-1")["id"])


def test_the_preview_is_the_web_invoice_and_counts_nothing(
    admin: Staff, client: TestClient, db: Database, invoice: dict[str, Any]
) -> None:
    page = admin.get(f"/admin/fakturor/{invoice['id']}")
    assert f'<iframe src="/admin/fakturor/{invoice["id"]}/forhandsvisning"' in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"  # the back office's own page is framed by nobody

    for _ in range(2):
        preview = admin.get(f"/admin/fakturor/{invoice['id']}/forhandsvisning")
        assert preview.status_code == 200, preview.text
    recipient = client.get(f"/i/{token_of(invoice)}")
    assert recipient.status_code == 200
    # the same page: the recipient's heading, amount and offer, in the web invoice's markup
    for text in (f"Faktura {invoice['number']}", "395,00", UPGRADE):
        assert text in preview.text and text in recipient.text, text
    assert preview.headers["cache-control"] == "no-store"
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in recipient.headers["content-security-policy"]
    # the recipient's one view counted a visit, its opened event and the offer's impression; the
    # two previews before it nothing
    assert counted(db, invoice["id"]) == (1, 1, 1)


def test_previews_alone_count_nothing(admin: Staff, db: Database, invoice: dict[str, Any]) -> None:
    for _ in range(3):
        assert admin.get(f"/admin/fakturor/{invoice['id']}/forhandsvisning").status_code == 200
    assert counted(db, invoice["id"]) == (0, 0, 0)


def test_a_draft_has_no_preview(admin: Staff, api: Any) -> None:
    customer = make_customer(api, "K-2")
    lines = [{"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    assert admin.get(f"/admin/fakturor/{draft['id']}/forhandsvisning").status_code == 404
    assert "forhandsvisning" not in admin.get(f"/admin/fakturor/{draft['id']}").text


@pytest.mark.parametrize(
    ("role", "status"), [("finance", 200), ("support", 200), ("read_only", 200), ("marketing", 403)]
)
def test_the_invoice_pages_roles_see_the_preview(
    staff_factory: Any, db: Database, invoice: dict[str, Any], role: str, status: int
) -> None:
    assert staff_factory(role).get(f"/admin/fakturor/{invoice['id']}/forhandsvisning").status_code == status
    assert counted(db, invoice["id"]) == (0, 0, 0)


def test_without_a_session_there_is_no_preview(client: TestClient, invoice: dict[str, Any]) -> None:
    answer = client.get(f"/admin/fakturor/{invoice['id']}/forhandsvisning", follow_redirects=False)
    assert answer.status_code in (303, 302) and "/admin/login" in answer.headers["location"]
