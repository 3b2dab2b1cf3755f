"""Drafts built from items, the invoice fee, discounts; write-offs; the overdue sweep."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.invoices.test_api_flow import make_customer, make_draft


def _items(api: Api) -> dict[str, dict[str, Any]]:
    rows = [
        {"article_no": "ABO", "title": "Abonnemang", "unit_price": 19900, "vat_rate": 25, "unit": "mån"},
        {"article_no": "TIDN", "title": "Tidning", "unit_price": 4900, "vat_rate": 6, "account": "3003"},
    ]
    return {row["article_no"]: api.post("/items", row).json() for row in rows}


def test_lines_from_items_take_title_price_rate_and_may_override(api: Api) -> None:
    items = _items(api)
    customer = make_customer(api)
    draft = make_draft(
        api,
        customer["id"],
        lines=[
            {"item": items["ABO"]["id"], "quantity": "1.5"},
            {"item": items["TIDN"]["id"], "unit_price": 3900, "description": "Tidning, kampanj"},
        ],
    )
    abo, tidn = draft["lines"]
    assert (abo["description"], abo["unit"], abo["quantity"], abo["net"]) == ("Abonnemang", "mån", "1.5", 29850)
    assert (tidn["description"], tidn["unit_price"], tidn["vat_rate"]) == ("Tidning, kampanj", 3900, 6)
    assert abo["article_no"] == "ABO" and tidn["account"] == "3003"


def test_discount_and_invoice_fee_at_the_main_rate(api: Api) -> None:
    assert api.patch("/tenant", {"invoice_fee": 2900}).status_code == 200
    customer = make_customer(api)
    draft = make_draft(
        api,
        customer["id"],
        lines=[
            {"description": "Bredband", "unit_price": 39900, "vat_rate": 25, "discount_percent": "10"},
            {"description": "Tidning", "unit_price": 4900, "vat_rate": 6},
        ],
    )
    assert draft["lines"][0]["net"] == 35910
    fee = draft["lines"][-1]
    assert (fee["kind"], fee["description"], fee["unit_price"], fee["vat_rate"]) == ("fee", "Fakturaavgift", 2900, 25)
    assert fee["account"] == "3540"
    without = make_draft(
        api, customer["id"], lines=[{"description": "x", "unit_price": 100, "vat_rate": 25}], invoice_fee=False
    )
    assert [line["kind"] for line in without["lines"]] == ["item"]


def test_update_draft_recomputes_totals_and_records_an_event(api: Api) -> None:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"])
    updated = api.patch(
        f"/invoices/{draft['id']}",
        {"lines": [{"description": "Ny rad", "unit_price": 10000, "vat_rate": 12}], "notes": "Tack!"},
    ).json()
    assert updated["total"] == 11200 and updated["vat_summary"] == [{"rate": 12, "net": 10000, "vat": 1200}]
    assert updated["notes"] == "Tack!"
    assert [e["type"] for e in updated["events"]] == ["created", "updated"]


def test_write_off_and_the_ledger_agree(api: Api) -> None:
    customer = make_customer(api)
    invoice = api.post(f"/invoices/{make_draft(api, customer['id'])['id']}/issue").json()
    api.post(f"/invoices/{invoice['id']}/payments", {"amount": 1200})
    written = api.post(f"/invoices/{invoice['id']}/write-off", {"reason": "Konkurs"}).json()
    assert written["state"] == "written_off" and written["written_off"] == 60000 and written["remaining"] == 0
    assert written["available_actions"] == []
    assert api.get(f"/customers/{customer['id']}").json()["balance"] == 0


def test_paying_in_full_marks_paid_and_an_overdue_invoice_stays_overdue_when_partly_paid(api: Api) -> None:
    customer = make_customer(api)
    late = make_draft(api, customer["id"], invoice_date="2026-09-01", due_date="2026-09-30")
    late = api.post(f"/invoices/{late['id']}/issue").json()
    assert late["invoice_date"] == "2026-09-01"
    partly = api.post(f"/invoices/{late['id']}/payments", {"amount": 100, "date": "2026-10-15"}).json()
    assert partly["state"] == "overdue"
    paid = api.post(f"/invoices/{late['id']}/payments", {"amount": partly["remaining"]}).json()
    assert paid["state"] == "paid" and paid["available_actions"] == ["credit"]
    assert [e["type"] for e in paid["events"]][-2:] == ["payment", "paid"]
