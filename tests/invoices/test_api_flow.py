"""The life of one invoice through the API: draft, issue, pay, credit."""

from __future__ import annotations

from typing import Any

from kvitt.formats import ocr
from tests.conftest import Api


def make_customer(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"customer_no": "1001", "name": "Astrid Lindqvist", "type": "individual", "email": "astrid@example.se"}
    body.update(fields)
    response = api.post("/customers", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_draft(api: Api, customer_id: int, lines: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    body = {
        "customer": customer_id,
        "lines": lines
        or [
            {"description": "Mobilabonnemang Fri", "quantity": "1", "unit_price": 31600, "vat_rate": 25},
            {"description": "Extra surf 5 GB", "quantity": "2", "unit_price": 4900, "vat_rate": 25},
            {"description": "Tidning", "quantity": "1", "unit_price": 8900, "vat_rate": 6},
        ],
    }
    body.update(fields)
    response = api.post("/invoices", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_draft_totals_are_per_rate_and_rounded_to_krona(api: Api) -> None:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"])
    assert draft["state"] == "draft"
    assert draft["number"] is None and draft["ocr"] is None
    assert [line["net"] for line in draft["lines"]] == [31600, 9800, 8900]
    assert draft["vat_summary"] == [{"rate": 25, "net": 41400, "vat": 10350}, {"rate": 6, "net": 8900, "vat": 534}]
    # 50300 + 10884 = 61184 öre → 612 kr: öresavrundning −84 öre... rounded half up to 61200
    assert draft["net"] == 50300 and draft["vat"] == 10884
    assert draft["rounding"] == 16 and draft["total"] == 61200
    assert draft["available_actions"] == ["update", "delete", "issue"]
    assert draft["url"].startswith("https://kvitt.test/i/")


def test_issue_assigns_number_ocr_dates_and_ledger(api: Api) -> None:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"])
    issued = api.post(f"/invoices/{draft['id']}/issue").json()
    assert issued["state"] == "unpaid"
    assert issued["number"] == 1
    assert ocr.is_valid(issued["ocr"])
    assert issued["remaining"] == issued["total"] == 61200
    assert issued["buyer"]["name"] == "Astrid Lindqvist"
    assert [e["type"] for e in issued["events"]] == ["created", "issued"]
    assert issued["available_actions"] == ["credit", "pay", "write_off"]
    second = api.post(f"/invoices/{make_draft(api, customer['id'])['id']}/issue").json()
    assert second["number"] == 2
    assert api.get(f"/customers/{customer['id']}").json()["balance"] == 122400


def test_payment_then_credit_of_the_rest(api: Api) -> None:
    customer = make_customer(api)
    invoice = api.post(f"/invoices/{make_draft(api, customer['id'])['id']}/issue").json()
    paid = api.post(f"/invoices/{invoice['id']}/payments", {"amount": 20000}).json()
    assert paid["state"] == "partly_paid" and paid["remaining"] == 41200
    note = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "remaining"}).json()
    assert note["kind"] == "credit_note" and note["total"] == -41200 and note["number"] == 2
    assert sum(g["net"] + g["vat"] for g in note["vat_summary"]) + note["rounding"] == -41200
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["state"] == "credited" and after["remaining"] == 0
    assert api.get(f"/customers/{customer['id']}").json()["balance"] == 0


def test_full_credit_mirrors_lines(api: Api) -> None:
    customer = make_customer(api)
    invoice = api.post(f"/invoices/{make_draft(api, customer['id'])['id']}/issue").json()
    note = api.post(f"/invoices/{invoice['id']}/credit").json()
    assert note["total"] == -invoice["total"] and note["rounding"] == -invoice["rounding"]
    assert [line["net"] for line in note["lines"]] == [-31600, -9800, -8900]
    assert note["credited_invoice"] == invoice["id"]
    assert api.get(f"/invoices/{invoice['id']}").json()["state"] == "credited"


def test_acting_in_a_wrong_state_answers_409_with_actions(api: Api) -> None:
    customer = make_customer(api)
    draft = make_draft(api, customer["id"])
    response = api.post(f"/invoices/{draft['id']}/credit")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert response.json()["error"]["available_actions"] == ["update", "delete", "issue"]
