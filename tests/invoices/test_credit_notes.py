"""Credit notes reverse exactly what was invoiced: per VAT rate, per revenue account, rounding included.

Source: a credit note reduces the output VAT by the VAT amount it states (Mervärdesskattelagen
2023:200, 17 kap. on credit notes); revenue is reversed on the BAS accounts it was booked on.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.invoices.test_api_flow import make_customer, make_draft


def _issue(api: Api, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"], lines=lines, **fields)
    return dict(api.post(f"/invoices/{draft['id']}/issue").json())


def _postings(api: Api, note: dict[str, Any]) -> dict[str, int]:
    """Revenue per account as the credit note's lines carry it."""
    result: dict[str, int] = {}
    for line in note["lines"]:
        result[line["account"]] = result.get(line["account"], 0) + line["net"]
    return result


def test_a_partial_credit_lands_on_the_accounts_the_invoice_was_booked_on(api: Api) -> None:
    api.patch("/tenant", {"invoice_fee": 2900})
    invoice = _issue(
        api,
        [
            {"description": "Abonnemang", "unit_price": 30000, "vat_rate": 25, "account": "3011"},
            {"description": "Surf", "unit_price": 10000, "vat_rate": 25},
        ],
    )
    # 300 + 100 + 29 (fee) = 429 net at 25 %, 107,25 VAT: 536,25 → 536 kr
    assert (invoice["net"], invoice["vat"], invoice["rounding"], invoice["total"]) == (42900, 10725, -25, 53600)
    half = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "amount", "amount": 26800}).json()
    assert half["total"] == -26800
    accounts = _postings(api, half)
    assert set(accounts) == {"3011", "3001", "3540"}
    assert sum(accounts.values()) == half["net"]
    assert accounts["3011"] == -15000 and accounts["3001"] == -5000 and accounts["3540"] == -1450


def test_credits_that_cancel_an_invoice_reverse_all_of_it(api: Api) -> None:
    invoice = _issue(
        api,
        [
            {"description": "Abonnemang", "unit_price": 31600, "vat_rate": 25},
            {"description": "Tidning", "unit_price": 8900, "vat_rate": 6},
        ],
    )
    notes = [
        api.post(f"/invoices/{invoice['id']}/credit", {"mode": "amount", "amount": 12345}).json(),
        api.post(f"/invoices/{invoice['id']}/credit", {"mode": "amount", "amount": 1}).json(),
        api.post(f"/invoices/{invoice['id']}/credit", {"mode": "remaining"}).json(),
    ]
    assert sum(note["total"] for note in notes) == -invoice["total"]
    assert sum(note["rounding"] for note in notes) == -invoice["rounding"]
    for rate in (25, 6):
        credited = [g for note in notes for g in note["vat_summary"] if g["rate"] == rate]
        original = next(g for g in invoice["vat_summary"] if g["rate"] == rate)
        assert sum(g["net"] for g in credited) == -original["net"]
        assert sum(g["vat"] for g in credited) == -original["vat"]
    assert api.get(f"/invoices/{invoice['id']}").json()["state"] == "credited"


def test_when_rounding_went_up_a_partial_credit_never_reverses_more_than_was_invoiced(api: Api) -> None:
    # 1,20 kr + 0,30 VAT = 1,50 → 2 kr: 50 öre of the total is rounding, not revenue.
    invoice = _issue(api, [{"description": "Sms", "unit_price": 120, "vat_rate": 25}])
    assert (invoice["net"], invoice["vat"], invoice["rounding"], invoice["total"]) == (120, 30, 50, 200)
    note = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "amount", "amount": 199}).json()
    assert note["total"] == -199
    assert -note["net"] <= 120 and -note["vat"] <= 30
    rest = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "remaining"}).json()
    assert note["net"] + rest["net"] == -120 and note["vat"] + rest["vat"] == -30
    assert note["rounding"] + rest["rounding"] == -50
