"""Bad input gets a clear error that names the field (``error.param``), and nothing is half applied.

Validation errors are 422 (``invalid_value`` / ``parameter_missing``), conflicts 409, unknown
ids 404; all in the shape ``{"error": {"type", "code", "message", "param"}}``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

LINE = {"description": "Mobilabonnemang", "quantity": "1", "unit_price": 31600, "vat_rate": 25}


def assert_error(response: Any, status: int, *, param: str | None, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert {"type", "code", "message", "param"} <= set(error), error
    assert error["message"], error
    assert error["param"] == param, f"param should name {param!r}: {error}"
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


@pytest.fixture
def customer(api: Api) -> dict[str, Any]:
    response = api.post("/customers", {"customer_no": "1001", "name": "Astrid Lindqvist"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def draft(api: Api, customer: dict[str, Any], lines: list[dict[str, Any]] | None = None, **fields: Any) -> Any:
    return api.post("/invoices", {"customer": customer["id"], "lines": [LINE] if lines is None else lines, **fields})


def issued(api: Api, customer: dict[str, Any]) -> dict[str, Any]:
    created = draft(api, customer)
    assert created.status_code == 201, created.text
    response = api.post(f"/invoices/{created.json()['id']}/issue")
    assert response.status_code == 200, response.text
    return dict(response.json())


def invoice_count(api: Api) -> int:
    return len(api.get("/invoices", params={"limit": 100}).json()["data"])


# --- lines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [24, 7, -25, "25%", 24.5, None])
def test_an_unknown_vat_rate_is_refused(api: Api, customer: dict[str, Any], rate: Any) -> None:
    if rate is None:  # a free-text line with no rate at all
        line = {k: v for k, v in LINE.items() if k != "vat_rate"}
        error = assert_error(draft(api, customer, [LINE, line]), 422, param="lines[1]")
        assert "vat_rate" in error["message"]
    else:
        assert_error(draft(api, customer, [LINE, {**LINE, "vat_rate": rate}]), 422, param="lines[1].vat_rate")
    assert invoice_count(api) == 0


def test_an_unknown_vat_rate_on_an_item_is_refused(api: Api) -> None:
    body = {"article_no": "X", "title": "X", "unit_price": 100, "vat_rate": 24}
    assert_error(api.post("/items", body), 422, param="vat_rate")


@pytest.mark.parametrize("price", [31600.5, "316.00", "31600", 31600.0, True, "3,16e4"])
def test_an_amount_must_be_an_integer_of_ore(api: Api, customer: dict[str, Any], price: Any) -> None:
    assert_error(draft(api, customer, [{**LINE, "unit_price": price}]), 422, param="lines[0].unit_price")
    assert invoice_count(api) == 0


@pytest.mark.parametrize("price", [31600.5, "316.00", -100])
def test_an_item_price_must_be_an_integer_of_ore(api: Api, price: Any) -> None:
    body = {"article_no": "X", "title": "X", "unit_price": price, "vat_rate": 25}
    assert_error(api.post("/items", body), 422, param="unit_price")


def test_a_negative_price_on_a_line_is_refused(api: Api, customer: dict[str, Any]) -> None:
    assert_error(draft(api, customer, [{**LINE, "unit_price": -31600}]), 422, param="lines[0].unit_price")


@pytest.mark.parametrize("quantity", ["-1", "0", "-0.001", -2, 0])
def test_a_quantity_must_be_positive(api: Api, customer: dict[str, Any], quantity: Any) -> None:
    error = assert_error(draft(api, customer, [{**LINE, "quantity": quantity}]), 422, param="lines[0].quantity")
    assert "credit" in error["message"]


@pytest.mark.parametrize("quantity", ["1.2345", "0.0001", "2.50001", 1.5, "abc", "NaN", "Infinity", "1e400"])
def test_a_quantity_has_at_most_three_decimals_and_is_a_number(
    api: Api, customer: dict[str, Any], quantity: Any
) -> None:
    assert_error(draft(api, customer, [{**LINE, "quantity": quantity}]), 422, param="lines[0].quantity")
    assert invoice_count(api) == 0


@pytest.mark.parametrize(("quantity", "shown"), [("1.2340", "1.234"), ("2.000000", "2"), ("0.001", "0.001"), (3, "3")])
def test_trailing_zeros_are_not_extra_decimals(api: Api, customer: dict[str, Any], quantity: Any, shown: str) -> None:
    response = draft(api, customer, [{**LINE, "quantity": quantity}])
    assert response.status_code == 201, response.text
    assert response.json()["lines"][0]["quantity"] == shown


@pytest.mark.parametrize("discount", ["-1", "100.01", "12.345", "abc"])
def test_a_bad_discount_is_refused(api: Api, customer: dict[str, Any], discount: str) -> None:
    line = {**LINE, "discount_percent": discount}
    assert_error(draft(api, customer, [line]), 422, param="lines[0].discount_percent")


def test_a_bad_account_is_refused(api: Api, customer: dict[str, Any]) -> None:
    assert_error(draft(api, customer, [{**LINE, "account": "30011"}]), 422, param="lines[0].account")


def test_a_bad_line_rejects_the_whole_invoice(api: Api, customer: dict[str, Any]) -> None:
    lines = [LINE, LINE, {**LINE, "vat_rate": 24}, LINE]
    error = assert_error(draft(api, customer, lines), 422, param="lines[2].vat_rate")
    assert [e["param"] for e in error["errors"]] == ["lines[2].vat_rate"]
    assert invoice_count(api) == 0


def test_every_bad_line_is_listed(api: Api, customer: dict[str, Any]) -> None:
    lines = [{**LINE, "vat_rate": 24}, LINE, {**LINE, "quantity": "-1"}, {**LINE, "unit_price": 1.5}]
    error = assert_error(draft(api, customer, lines), 422, param="lines[0].vat_rate")
    assert [e["param"] for e in error["errors"]] == ["lines[0].vat_rate", "lines[2].quantity", "lines[3].unit_price"]


def test_an_unknown_field_on_a_line_is_named(api: Api, customer: dict[str, Any]) -> None:
    assert_error(draft(api, customer, [{**LINE, "vat": 25}]), 422, param="lines[0].vat")


# --- customers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["19811218-9877", "811318-9876", "12345", "abcdefghij"])
def test_an_invalid_personal_number_is_refused(api: Api, number: str) -> None:
    body = {"customer_no": "1", "name": "Astrid", "type": "individual", "id_number": number}
    assert_error(api.post("/customers", body), 422, param="id_number")
    assert api.get("/customers").json()["data"] == []


@pytest.mark.parametrize("number", ["556036-0794", "55603607", "556036-079A"])
def test_an_invalid_organisation_number_is_refused(api: Api, number: str) -> None:
    body = {"customer_no": "1", "name": "Bolaget AB", "type": "company", "id_number": number}
    assert_error(api.post("/customers", body), 422, param="id_number")


def test_an_invalid_personal_number_in_an_update_is_refused(api: Api, customer: dict[str, Any]) -> None:
    assert_error(api.patch(f"/customers/{customer['id']}", {"id_number": "19811218-9877"}), 422, param="id_number")
    assert api.get(f"/customers/{customer['id']}").json()["id_number"] is None


def test_valid_identity_numbers_are_normalised(api: Api) -> None:
    person = api.post("/customers", {"customer_no": "1", "name": "A", "id_number": "811218-9876"})
    assert person.status_code == 201 and person.json()["id_number"] == "198112189876"
    company = api.post("/customers", {"customer_no": "2", "name": "B", "type": "company", "id_number": "5560360793"})
    assert company.status_code == 201 and company.json()["id_number"] == "556036-0793"


@pytest.mark.parametrize(("field", "value"), [("email", "astrid@"), ("phone", "12"), ("type", "robot")])
def test_bad_contact_fields_are_named(api: Api, field: str, value: str) -> None:
    assert_error(api.post("/customers", {"customer_no": "1", "name": "A", field: value}), 422, param=field)


def test_a_duplicate_customer_number_is_a_conflict(api: Api, customer: dict[str, Any]) -> None:
    again = api.post("/customers", {"customer_no": "1001", "name": "Någon annan"})
    assert_error(again, 409, param="customer_no", code="duplicate_customer_no")
    assert len(api.get("/customers").json()["data"]) == 1


def test_a_duplicate_article_number_is_a_conflict(api: Api) -> None:
    body = {"article_no": "MOB", "title": "Mobil", "unit_price": 100, "vat_rate": 25}
    assert api.post("/items", body).status_code == 201
    assert_error(api.post("/items", body), 409, param="article_no", code="duplicate_article_no")


# --- drafts: references and dates ----------------------------------------------------------------------


def test_an_unknown_customer_is_404_naming_it(api: Api) -> None:
    error = assert_error(api.post("/invoices", {"customer": 987654, "lines": [LINE]}), 404, param="customer")
    assert error["code"] == "resource_missing" and "987654" in error["message"]
    assert invoice_count(api) == 0


def test_an_unknown_item_is_404_naming_the_line(api: Api, customer: dict[str, Any]) -> None:
    error = assert_error(draft(api, customer, [LINE, {"item": 987654}]), 404, param="lines[1].item")
    assert error["code"] == "resource_missing"
    assert invoice_count(api) == 0


def test_an_unknown_customer_or_item_in_an_update_is_404(api: Api, customer: dict[str, Any]) -> None:
    created = draft(api, customer).json()
    assert_error(api.patch(f"/invoices/{created['id']}", {"customer": 987654}), 404, param="customer")
    assert_error(api.patch(f"/invoices/{created['id']}", {"lines": [{"item": 987654}]}), 404, param="lines[0].item")
    after = api.get(f"/invoices/{created['id']}").json()
    assert after["customer"] == customer["id"] and after["lines"] == created["lines"]
    assert [e["type"] for e in after["events"]] == ["created"]


def test_due_date_before_invoice_date_is_refused(api: Api, customer: dict[str, Any]) -> None:
    response = draft(api, customer, invoice_date="2024-03-10", due_date="2024-03-09")
    assert_error(response, 422, param="due_date")
    assert invoice_count(api) == 0


def test_due_date_before_invoice_date_is_refused_in_an_update(api: Api, customer: dict[str, Any]) -> None:
    created = draft(api, customer, invoice_date="2024-03-10", due_date="2024-04-09").json()
    assert_error(api.patch(f"/invoices/{created['id']}", {"due_date": "2024-03-01"}), 422, param="due_date")
    assert api.get(f"/invoices/{created['id']}").json()["due_date"] == "2024-04-09"


def test_a_due_date_before_the_issue_date_is_refused_at_issue(api: Api, customer: dict[str, Any]) -> None:
    """A draft with only a due date gets today as its invoice date when issued: that due date
    must not then fall before it."""
    created = draft(api, customer, due_date="2020-01-01").json()
    response = api.post(f"/invoices/{created['id']}/issue")
    assert_error(response, 422, param="due_date")
    assert api.get(f"/invoices/{created['id']}").json()["state"] == "draft"


@pytest.mark.parametrize(("field", "value"), [("invoice_date", "2024-02-30"), ("due_date", "soon")])
def test_a_bad_date_is_named(api: Api, customer: dict[str, Any], field: str, value: str) -> None:
    assert_error(draft(api, customer, **{field: value}), 422, param=field)


@pytest.mark.parametrize("days", [-1, 366, "30 dagar"])
def test_bad_payment_terms_are_named(api: Api, customer: dict[str, Any], days: Any) -> None:
    assert_error(draft(api, customer, payment_terms_days=days), 422, param="payment_terms_days")


def test_only_sek(api: Api, customer: dict[str, Any]) -> None:
    assert_error(draft(api, customer, currency="EUR"), 422, param="currency")


# --- issuing and states -----------------------------------------------------------------------------------


def test_issuing_an_invoice_without_lines_is_refused(api: Api, customer: dict[str, Any]) -> None:
    empty = draft(api, customer, []).json()
    assert_error(api.post(f"/invoices/{empty['id']}/issue"), 422, param="lines", code="invoice_empty")
    after = api.get(f"/invoices/{empty['id']}").json()
    assert after["state"] == "draft" and after["number"] is None
    # The refused issue took no number.
    assert issued(api, customer)["number"] == 1


@pytest.mark.parametrize(
    ("setup", "action", "body", "actions"),
    [
        ("draft", "credit", None, ["update", "delete", "issue"]),
        ("draft", "payments", {"amount": 100}, ["update", "delete", "issue"]),
        ("draft", "write-off", None, ["update", "delete", "issue"]),
        ("issued", "issue", None, ["credit", "pay", "write_off"]),
        # A paid invoice may be credited (its money is freed: tests/payments/test_credit_paid_invoices.py).
        ("paid", "payments", {"amount": 1}, ["credit"]),
        ("paid", "write-off", None, ["credit"]),
        ("written_off", "issue", None, []),
        ("credit_note", "credit", None, []),
        ("credit_note", "payments", {"amount": 1}, []),
    ],
)
def test_acting_in_a_wrong_state_is_409_with_the_actions_allowed(
    api: Api, customer: dict[str, Any], setup: str, action: str, body: Any, actions: list[str]
) -> None:
    if setup == "draft":
        target = draft(api, customer).json()
    else:
        target = issued(api, customer)
        if setup == "paid":
            assert api.post(f"/invoices/{target['id']}/payments", {"amount": target["total"]}).status_code == 200
        elif setup == "written_off":
            assert api.post(f"/invoices/{target['id']}/write-off").status_code == 200
        elif setup == "credit_note":
            target = api.post(f"/invoices/{target['id']}/credit").json()
    before = api.get(f"/invoices/{target['id']}").json()
    error = assert_error(api.post(f"/invoices/{target['id']}/{action}", body), 409, param=None, code="invalid_state")
    assert error["available_actions"] == actions
    assert api.get(f"/invoices/{target['id']}").json() == before


def test_patch_of_an_issued_invoice_is_409(api: Api, customer: dict[str, Any]) -> None:
    invoice = issued(api, customer)
    for body in ({"notes": "ändrad"}, {"lines": [LINE, LINE]}, {"due_date": "2030-01-01"}):
        error = assert_error(api.patch(f"/invoices/{invoice['id']}", body), 409, param=None, code="invalid_state")
        assert error["available_actions"] == ["credit", "pay", "write_off"]
    assert api.get(f"/invoices/{invoice['id']}").json()["lines"] == invoice["lines"]


def test_delete_of_an_issued_invoice_is_409(api: Api, customer: dict[str, Any]) -> None:
    invoice = issued(api, customer)
    assert_error(api.delete(f"/invoices/{invoice['id']}"), 409, param=None, code="invalid_state")
    assert api.get(f"/invoices/{invoice['id']}").status_code == 200


def test_a_billed_customer_cannot_be_deleted(api: Api, customer: dict[str, Any]) -> None:
    issued(api, customer)
    assert_error(api.delete(f"/customers/{customer['id']}"), 409, param=None, code="customer_has_invoices")


# --- money on issued invoices ----------------------------------------------------------------------------


def test_a_credit_of_more_than_was_invoiced_is_refused(api: Api, customer: dict[str, Any]) -> None:
    invoice = issued(api, customer)
    assert api.post(f"/invoices/{invoice['id']}/payments", {"amount": 30000}).status_code == 200
    remaining = invoice["total"] - 30000
    # What is left plus what was paid can be credited (the paid part is freed to the customer), not more.
    too_much = {"mode": "amount", "amount": invoice["total"] + 1}
    error = assert_error(api.post(f"/invoices/{invoice['id']}/credit", too_much), 422, param="amount")
    assert error["code"] == "amount_too_large"
    assert api.get(f"/invoices/{invoice['id']}").json()["credited"] == 0
    assert api.get("/invoices", params={"kind": "credit_note"}).json()["data"] == []
    exact = api.post(f"/invoices/{invoice['id']}/credit", {"mode": "amount", "amount": remaining})
    assert exact.status_code == 201 and exact.json()["number"] == 2  # the refused credit took no number


def test_a_full_credit_after_an_earlier_credit_is_refused(api: Api, customer: dict[str, Any]) -> None:
    invoice = issued(api, customer)
    assert api.post(f"/invoices/{invoice['id']}/credit", {"mode": "amount", "amount": 100}).status_code == 201
    assert_error(api.post(f"/invoices/{invoice['id']}/credit", {"mode": "full"}), 422, param="mode")


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "amount"},
        {"mode": "full", "amount": 100},
        {"mode": "amount", "amount": 0},
        {"mode": "amount", "amount": -100},
        {"mode": "amount", "amount": 100.5},
        {"mode": "half"},
    ],
)
def test_a_malformed_credit_is_refused(api: Api, customer: dict[str, Any], body: dict[str, Any]) -> None:
    invoice = issued(api, customer)
    response = api.post(f"/invoices/{invoice['id']}/credit", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] in {"amount", "mode"}, response.json()


def test_a_payment_of_more_than_remains_pays_it_and_keeps_the_rest_as_credit(
    api: Api, customer: dict[str, Any]
) -> None:
    """Not an error: the surplus becomes the customer's credit balance (BAS 2420) and an
    ``overpayment`` deviation for a person to refund or keep."""
    invoice = issued(api, customer)
    response = api.post(f"/invoices/{invoice['id']}/payments", {"amount": invoice["total"] + 1})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "paid" and response.json()["remaining"] == 0
    assert api.get(f"/customers/{customer['id']}").json()["balance"] == 0
    deviations = api.get("/deviations", params={"kind": "overpayment"}).json()["data"]
    assert [(d["amount"], d["invoice"]) for d in deviations] == [(1, invoice["id"])]


@pytest.mark.parametrize("amount", [0, -100, 100.5, "100", None])
def test_a_malformed_payment_is_refused(api: Api, customer: dict[str, Any], amount: Any) -> None:
    invoice = issued(api, customer)
    assert_error(api.post(f"/invoices/{invoice['id']}/payments", {"amount": amount}), 422, param="amount")


def test_a_payment_with_a_bad_date_is_refused(api: Api, customer: dict[str, Any]) -> None:
    invoice = issued(api, customer)
    body = {"amount": 100, "date": "2024-02-30"}
    assert_error(api.post(f"/invoices/{invoice['id']}/payments", body), 422, param="date")
