"""``GET /api/v1/ledger/sie`` and ``GET /api/v1/customers/{id}/ledger``."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from kvitt.core.db import Database
from kvitt.formats import sie4
from kvitt.ledger import service as ledger
from kvitt.ledger.api import router
from kvitt.ledger.export import export_sie
from kvitt.ledger.journal import EntryDraft
from kvitt.ledger.models import JournalEntry
from kvitt.tenants.models import Tenant
from tests.conftest import Api
from tests.ledger.test_export import FEB, JAN, MAR, customer, issued, ok, on, pay

PERIOD = {"from": "2025-01-10", "to": "2025-03-10"}


@pytest.fixture
def app(app: Any) -> Any:
    """The app, with the ledger routes included if ``create_app`` does not include them yet."""
    if not any(c.path == "/api/v1/ledger/sie" for c in iter_route_contexts(app.routes)):
        app.include_router(router, prefix="/api/v1")
    return app


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json()["error"])


# --- the SIE file ----------------------------------------------------------------------------


def test_the_sie_file_is_a_download_of_the_export(db: Database, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    on(monkeypatch, JAN)
    invoice = issued(api, customer(api, "1"), JAN)
    on(monkeypatch, FEB)
    pay(api, invoice, invoice["total"], FEB)
    on(monkeypatch, date(2025, 4, 1))
    response = api.get("/ledger/sie", params=PERIOD)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="kvitt-20250110-20250310.se"'
    with db.transaction() as session:
        expected = export_sie(session, session.get_one(Tenant, api.tenant_id), JAN, MAR)
    assert response.content == expected
    sie = sie4.read(response.content)
    assert len(sie.vouchers) == 2 and sie.vouchers[0].text == "Faktura 1"
    assert sie.company.generated == date(2025, 4, 1)


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"to": "2025-03-10"}, "from", "parameter_missing"),
        ({"from": "2025-01-10"}, "to", "parameter_missing"),
        ({"from": "2025-01-10", "to": "2025-02-30"}, "to", "invalid_value"),
        ({"from": "10/1/2025", "to": "2025-03-10"}, "from", "invalid_value"),
        ({"from": "2025-03-11", "to": "2025-03-10"}, "from", "invalid_value"),
    ],
)
def test_a_bad_period_is_refused_naming_the_param(api: Api, params: dict[str, str], param: str, code: str) -> None:
    body = error(api.get("/ledger/sie", params=params), 422)
    assert (body["param"], body["code"]) == (param, code)
    if params.get("from") == "2025-03-11":
        assert body["message"] == "from (2025-03-11) is after to (2025-03-10)"


def test_a_period_without_entries_is_a_file_without_vouchers(api: Api) -> None:
    response = api.get("/ledger/sie", params={"from": "2025-01-01", "to": "2025-01-01"})
    assert response.status_code == 200
    assert sie4.read(response.content).vouchers == ()


# --- the customer's ledger -------------------------------------------------------------------


def kinds_from_db(db: Database, tenant_id: int, entry_ids: list[int]) -> list[tuple[int, str, str, int | None]]:
    with db.transaction() as session:
        rows = session.scalars(
            select(JournalEntry).where(JournalEntry.tenant_id == tenant_id, JournalEntry.id.in_(entry_ids))
        )
        found = {e.id: (e.id, e.kind, e.text, e.invoice_id) for e in rows}
    return [found[i] for i in entry_ids]


def apply_credit(db: Database, tenant_id: int, customer_id: int, invoice_id: int, amount: int, day: date) -> None:
    """Spend the customer's credit on an invoice: 2420 against 1510 (as the payments work posts it)."""
    with db.transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        chart = ledger.chart_for(tenant)
        entry = EntryDraft(day, "credit_applied", "Tillgodo använt", invoice_id)
        entry.add(chart["customer_advances"], amount, customer_id=customer_id)
        entry.add(chart["receivables"], -amount, customer_id=customer_id, invoice_id=invoice_id)
        ledger.post(session, tenant_id, [entry])


@pytest.fixture
def accounts(db: Database, api: Api, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Astrid: invoiced, overpaid (credit 50 kr), invoiced again, credit spent. Bertil: invoiced,
    credited, invoiced, written off."""
    on(monkeypatch, JAN)
    astrid, bertil = customer(api, "1", "Astrid Lindqvist"), customer(api, "2", "Bertil Åkesson")
    first = issued(api, astrid, JAN)
    b1 = issued(api, bertil, JAN, rate=12)
    b2 = issued(api, bertil, JAN)
    on(monkeypatch, FEB)
    pay(api, first, first["total"] + 5000, FEB)
    note = ok(api.post(f"/invoices/{b1['id']}/credit", {"mode": "full"}), 201)
    on(monkeypatch, MAR)
    second = issued(api, astrid, MAR)
    apply_credit(db, api.tenant_id, astrid, second["id"], 5000, MAR)
    ok(api.post(f"/invoices/{b2['id']}/write-off", {}))
    return {"astrid": astrid, "bertil": bertil, "first": first, "second": second, "b1": b1, "b2": b2, "note": note}


def rows(ledger_json: dict[str, Any]) -> list[tuple[str, str, int, int, int, int]]:
    return [
        (e["date"], e["kind"], e["amount"], e["balance"], e["credit_amount"], e["credit_balance"])
        for e in ledger_json["entries"]
    ]


def test_a_customers_ledger_with_running_balances(db: Database, api: Api, accounts: dict[str, Any]) -> None:
    body = ok(api.get(f"/customers/{accounts['astrid']}/ledger"))
    assert body["object"] == "customer_ledger" and body["customer"] == accounts["astrid"]
    assert [
        (e["date"], e["amount"], e["balance"], e["credit_amount"], e["credit_balance"]) for e in body["entries"]
    ] == [
        ("2025-01-10", 39500, 39500, 0, 0),  # Faktura 1
        ("2025-02-10", -39500, 0, 5000, 5000),  # paid 445 kr: 50 kr too much becomes credit
        ("2025-03-10", 39500, 39500, 0, 5000),  # Faktura 5
        ("2025-03-10", -5000, 34500, -5000, 0),  # the credit spent on it
    ]
    entry_ids = [e["entry"] for e in body["entries"]]
    assert entry_ids == sorted(entry_ids)
    assert [(e["entry"], e["kind"], e["text"], e["invoice"]) for e in body["entries"]] == kinds_from_db(
        db, api.tenant_id, entry_ids
    )
    assert [e["text"] for e in body["entries"]][::2] == ["Faktura 1", f"Faktura {accounts['second']['number']}"]
    assert body["entries"][0]["invoice"] == accounts["first"]["id"]
    assert (body["balance"], body["credit_balance"], body["net_balance"]) == (34500, 0, 34500)
    # The balance is the one the customer object shows (the sum of their 1510 postings).
    assert ok(api.get(f"/customers/{accounts['astrid']}"))["balance"] == body["balance"]


def test_credit_notes_and_write_offs_in_the_ledger(api: Api, accounts: dict[str, Any]) -> None:
    body = ok(api.get(f"/customers/{accounts['bertil']}/ledger"))
    assert rows(body) == [
        ("2025-01-10", "invoice", 35400, 35400, 0, 0),
        ("2025-01-10", "invoice", 39500, 74900, 0, 0),
        ("2025-02-10", "credit_note", -35400, 39500, 0, 0),
        ("2025-03-10", "write_off", -39500, 0, 0, 0),
    ]
    # The credit note's entry names the credit note; the write-off names the invoice.
    assert [e["invoice"] for e in body["entries"]] == [
        accounts["b1"]["id"],
        accounts["b2"]["id"],
        accounts["note"]["id"],
        accounts["b2"]["id"],
    ]
    assert (body["balance"], body["credit_balance"], body["net_balance"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("params", "expected", "totals"),
    [
        (
            {"from": "2025-02-01"},
            [
                ("2025-02-01", "opening_balance", 39500, 39500, 0, 0),
                ("2025-02-10", None, -39500, 0, 5000, 5000),
                ("2025-03-10", None, 39500, 39500, 0, 5000),
                ("2025-03-10", None, -5000, 34500, -5000, 0),
            ],
            (34500, 0, 34500),
        ),
        (
            {"to": "2025-02-10"},
            [("2025-01-10", None, 39500, 39500, 0, 0), ("2025-02-10", None, -39500, 0, 5000, 5000)],
            (0, 5000, -5000),
        ),
        (
            {"from": "2025-02-10", "to": "2025-02-10"},
            [("2025-02-10", "opening_balance", 39500, 39500, 0, 0), ("2025-02-10", None, -39500, 0, 5000, 5000)],
            (0, 5000, -5000),
        ),
        (
            {"from": "2025-02-11", "to": "2025-03-09"},
            [("2025-02-11", "opening_balance", 0, 0, 5000, 5000)],
            (0, 5000, -5000),
        ),
        (
            {"from": "2026-01-01"},
            [("2026-01-01", "opening_balance", 34500, 34500, 0, 0)],
            (34500, 0, 34500),
        ),
        ({"to": "2024-12-31"}, [], (0, 0, 0)),
    ],
)
def test_a_period_of_the_ledger_starts_with_an_opening_balance(
    api: Api,
    accounts: dict[str, Any],
    params: dict[str, str],
    expected: list[tuple[str, str | None, int, int, int, int]],
    totals: tuple[int, int, int],
) -> None:
    body = ok(api.get(f"/customers/{accounts['astrid']}/ledger", params=params))
    got = [(d, k if k == "opening_balance" else None, *amounts) for d, k, *amounts in rows(body)]
    assert got == expected
    assert (body["balance"], body["credit_balance"], body["net_balance"]) == totals
    if body["entries"] and body["entries"][0]["kind"] == "opening_balance":
        opening = body["entries"][0]
        assert opening["entry"] is None and opening["invoice"] is None and opening["text"] == "Ingående balans"


def test_from_after_to_is_refused(api: Api, accounts: dict[str, Any]) -> None:
    body = error(
        api.get(f"/customers/{accounts['astrid']}/ledger", params={"from": "2025-03-01", "to": "2025-02-01"}), 422
    )
    assert body["param"] == "from"


def test_a_customer_without_entries_has_an_empty_ledger(api: Api) -> None:
    body = ok(api.get(f"/customers/{customer(api, '9')}/ledger"))
    assert body == {
        "object": "customer_ledger",
        "customer": body["customer"],
        "entries": [],
        "balance": 0,
        "credit_balance": 0,
        "net_balance": 0,
    }


def test_another_tenants_customer_is_not_found(api: Api, api_b: Api, accounts: dict[str, Any]) -> None:
    for missing in (accounts["astrid"] + 1000, 987654321):
        body = error(api.get(f"/customers/{missing}/ledger"), 404)
        assert (body["code"], body["param"]) == ("resource_missing", "customer")
    body = error(api_b.get(f"/customers/{accounts['astrid']}/ledger"), 404)
    assert body["message"] == f"no customer {accounts['astrid']}"


def test_the_ledger_follows_the_tenants_chart(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ok(api.patch("/tenant", {"accounts": {"receivables": "1511", "customer_advances": "2421"}}))
    on(monkeypatch, JAN)
    astrid = customer(api, "1")
    invoice = issued(api, astrid, JAN)
    pay(api, invoice, invoice["total"] + 100, JAN)
    body = ok(api.get(f"/customers/{astrid}/ledger"))
    assert rows(body) == [
        ("2025-01-10", "invoice", 39500, 39500, 0, 0),
        ("2025-01-10", body["entries"][1]["kind"], -39500, 0, 100, 100),
    ]
    assert (body["balance"], body["credit_balance"], body["net_balance"]) == (0, 100, -100)
