"""The invoice in a webhook's ``data.object`` is built without pydantic on the bulk path; it must
stay exactly what the API shows (``invoices.api.to_out``), for every kind of invoice and line."""

from __future__ import annotations

from sqlalchemy import select

from kvitt.core.config import get_settings, web_base_url
from kvitt.core.db import Database
from kvitt.invoices.api import to_out
from kvitt.invoices.models import Invoice
from kvitt.tenants.models import Tenant
from kvitt.webhooks.objects import invoice_object, objects_of
from tests.conftest import Api
from tests.webhooks.helpers import created


def test_the_invoice_object_equals_the_api_shape(api: Api, db: Database) -> None:
    customer = created(api.post("/customers", {"customer_no": "1", "name": "Astrid Lindqvist", "email": "a@b.se"}))
    lines = [
        {"description": "Abonnemang", "quantity": "2.5", "unit": "mån", "unit_price": 19900, "vat_rate": 25},
        {"description": "Rabatt", "quantity": "1", "unit_price": 5000, "vat_rate": 12, "discount_percent": "12.5"},
        {"description": "Bok", "quantity": "3", "unit_price": 10000, "vat_rate": 6, "account": "3002"},
    ]
    body = {
        "customer": customer["id"],
        "lines": lines,
        "notes": "Tack för att du är kund — åäö",
        "metadata": {"order": "A-17", "nested": {"n": 1}},
        "info": [{"title": "Info", "text": "Betala i tid"}],
        "due_date": "2026-12-31",
    }
    draft = created(api.post("/invoices", body))
    issued = created(api.post("/invoices", {**body, "metadata": {}}))
    assert api.post(f"/invoices/{issued['id']}/issue").status_code == 200
    credited = created(api.post("/invoices", body))
    assert api.post(f"/invoices/{credited['id']}/issue").status_code == 200
    note = api.post(f"/invoices/{credited['id']}/credit")
    assert note.status_code == 201, note.text

    base_url = web_base_url(get_settings())
    with db.transaction() as session:
        invoices = list(session.scalars(select(Invoice).order_by(Invoice.id)))
        assert {i.state for i in invoices} >= {"draft", "unpaid", "credited"} and len(invoices) == 4
        assert {i.id for i in invoices} >= {draft["id"], note.json()["id"]}
        for invoice in invoices:
            expected = to_out(invoice, base_url).model_dump(mode="json", exclude={"events"})
            assert invoice_object(invoice, base_url) == expected
        expected_all = [to_out(i, base_url).model_dump(mode="json", exclude={"events"}) for i in invoices]
        tenant_id = invoices[0].tenant_id
    # The fan-out's path: invoices and their lines read in bulk (lines as columns), in a session
    # that holds none of them yet.
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert objects_of(session, tenant, [{"invoice_id": i["id"]} for i in expected_all]) == expected_all
