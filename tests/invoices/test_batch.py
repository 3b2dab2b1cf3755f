"""The batch path (billing runs, billing files) gives exactly what drafts issued one by one give."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kvitt.catalog import service as catalog
from kvitt.catalog.schemas import ItemCreate
from kvitt.core.db import Database
from kvitt.core.errors import NotFound
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import InfoBlock, InvoiceCreate, LineIn
from kvitt.ledger import service as ledger
from kvitt.tenants import service as tenants
from kvitt.tenants.models import Tenant
from kvitt.tenants.schemas import TenantSettings
from tests.conftest import TENANT_A, make_tenant

TODAY = date(2026, 11, 25)
COMPARED = [
    "kind",
    "state",
    "number",
    "ocr",
    "currency",
    "invoice_date",
    "due_date",
    "net",
    "vat",
    "rounding",
    "total",
    "remaining",
    "vat_summary",
    "with_invoice_fee",
    "buyer",
    "info",
    "metadata_",
    "paid",
    "credited",
    "written_off",
    "customer_id",
]
LINE_FIELDS = (
    "position kind item_id article_no description quantity_milli unit unit_price discount_bp vat_rate account net"
)


def _inputs(customer_ids: list[int], item_id: int) -> list[InvoiceCreate]:
    return [
        InvoiceCreate(
            customer=customer_id,
            lines=[
                LineIn(item=item_id, quantity=Decimal("2.5")),
                LineIn(description="Surf 10 GB", unit_price=9900, vat_rate=25, discount_percent=Decimal("12.5")),
                LineIn(description="Tidning", unit_price=4900, vat_rate=6),
            ],
            info=[InfoBlock(title="Förbrukning", text="3,2 GB")],
            metadata={"period": "2026-11"},
            payment_terms_days=20 + n,
        )
        for n, customer_id in enumerate(customer_ids)
    ]


def _world(db: Database) -> tuple[int, list[int], int]:
    tenant_id, _ = make_tenant(db, **TENANT_A)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        tenants.update_settings(session, tenant, TenantSettings(invoice_fee=2900, ocr_length=10))
        ids = [
            customers.create(session, tenant, CustomerCreate(customer_no=str(n), name=f"Kund {n}")).id for n in range(6)
        ]
        item = catalog.create(
            session, tenant, ItemCreate(article_no="ABO", title="Abonnemang", unit_price=19900, vat_rate=25)
        )
        return tenant_id, ids, item.id


def _snapshot(invoice: Invoice) -> dict[str, Any]:
    figures = {name: getattr(invoice, name) for name in COMPARED}
    figures["lines"] = [{f: getattr(line, f) for f in LINE_FIELDS.split()} for line in invoice.lines]
    figures["number"] = figures["number"] % 3  # the two halves take different numbers
    figures["ocr"] = len(figures["ocr"])
    return figures


def test_batch_and_one_by_one_give_the_same_invoices_and_ledger(db: Database) -> None:
    tenant_id, customer_ids, item_id = _world(db)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        one_by_one = invoices.create_drafts(session, tenant, _inputs(customer_ids[:3], item_id), actor="t")
        invoices.issue(session, tenant, one_by_one, today=TODAY, actor="t")
        batch_ids = invoices.create_and_issue(
            session, tenant, _inputs(customer_ids[3:], item_id), today=TODAY, actor="t"
        )
        session.expire_all()
        batched = [invoices.get(session, tenant, invoice_id) for invoice_id in batch_ids]
        for single, bulk in zip(one_by_one, batched, strict=True):
            expected = _snapshot(single)
            expected["customer_id"] += 3
            expected["buyer"] = {**expected["buyer"], "customer_no": str(int(expected["buyer"]["customer_no"]) + 3)}
            expected["buyer"]["name"] = f"Kund {expected['buyer']['customer_no']}"
            assert _snapshot(bulk) == expected
        assert [inv.number for inv in batched] == [4, 5, 6]
        assert len({inv.token for inv in batched}) == 3
        assert ledger.unbalanced_entries(session, tenant.id) == []
        for invoice in batched:
            assert ledger.invoice_receivable(session, tenant, invoice.id) == invoice.remaining == invoice.total
        events = invoices.events_of(session, tenant, batch_ids)
        assert all([e.type for e in events[i]] == ["created", "issued"] for i in batch_ids)


def test_a_bad_input_rejects_the_whole_batch(db: Database) -> None:
    tenant_id, customer_ids, item_id = _world(db)
    inputs = _inputs(customer_ids, item_id)
    inputs[4] = InvoiceCreate(customer=999_999, lines=inputs[4].lines)
    with pytest.raises(NotFound), db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        invoices.create_and_issue(session, tenant, inputs, today=TODAY, actor="t")
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        assert invoices.list_page(session, tenant, limit=10, starting_after=None).items == []
        # the numbers went back with the rollback: the next invoice is number 1
        assert invoices.take_numbers(session, tenant.id, 1) == [1]
