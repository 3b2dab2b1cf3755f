"""GET /api/v1/invoices/{id} from rows (invoices/reads.py) answers the bytes the ORM path did.

The reference is the previous path, kept as it was: the ORM invoice with its lines and events,
``to_out`` and FastAPI's response-model serialization (a ``TypeAdapter`` of ``InvoiceOut``
dumped to JSON).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from kvitt.core.db import Database
from kvitt.invoices import service
from kvitt.invoices.api import to_out
from kvitt.invoices.schemas import InvoiceOut
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.invoices.test_api_flow import make_customer, make_draft

BASE_URL = "https://kvitt.test"
ADAPTER = TypeAdapter(InvoiceOut)


def _orm_answer(db: Database, tenant_id: int, invoice_id: int) -> bytes:
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoice, events = service.get_with_events(session, tenant, invoice_id)
        return ADAPTER.dump_json(to_out(invoice, BASE_URL, events))


def _assert_same(api: Api, db: Database, invoice_id: int) -> dict[str, Any]:
    response = api.get(f"/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == _orm_answer(db, api.tenant_id, invoice_id)
    return dict(response.json())


def test_a_draft_an_issued_a_paid_and_a_credit_note_answer_the_same_bytes(api: Api, db: Database) -> None:
    customer = make_customer(api, name="Åsa Öberg-Ängström", address_line1="Storgatan 1", city="Malmö")
    lines = [
        {
            "description": "Mobil – Fri ∞",
            "quantity": "1.5",
            "unit": "mån",
            "unit_price": 31600,
            "vat_rate": 25,
        },
        {"description": "Rabatt", "quantity": "2", "unit_price": 4900, "vat_rate": 25, "discount_percent": "12.5"},
        {"description": "Tidning", "quantity": "1", "unit_price": 8900, "vat_rate": 6},
    ]
    draft = make_draft(api, customer["id"], lines, metadata={"order": "A-17", "nested": {"ö": [1, 2]}})
    assert _assert_same(api, db, draft["id"])["state"] == "draft"

    issued = api.post(f"/invoices/{draft['id']}/issue").json()
    assert _assert_same(api, db, issued["id"])["events"]

    paid = api.post(f"/invoices/{issued['id']}/payments", {"amount": 1000})
    assert paid.status_code < 300, paid.text
    assert _assert_same(api, db, issued["id"])["paid"] == 1000

    note = api.post(f"/invoices/{issued['id']}/credit", {"mode": "remaining"})
    assert note.status_code == 201, note.text
    assert _assert_same(api, db, note.json()["id"])["credited_invoice"] == issued["id"]


def test_an_invoice_without_lines_answers_an_empty_list(api: Api, db: Database) -> None:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"])
    with db.transaction() as session:
        from sqlalchemy import delete

        from kvitt.invoices.models import InvoiceLine

        session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == draft["id"]))
    assert _assert_same(api, db, draft["id"])["lines"] == []


def test_another_tenants_invoice_is_not_found(api: Api, api_b: Api) -> None:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"])
    response = api_b.get(f"/invoices/{draft['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "invoice"
    assert api.get(f"/invoices/{draft['id'] + 1000}").status_code == 404
