"""What the API answers with, as a new user meets it (issue 12): balances in lists, payments
not dated in the future, and errors that name an invoice the way the request named it."""

from __future__ import annotations

from datetime import timedelta

from kvitt.core import clock
from tests.conftest import Api
from tests.invoices.test_api_flow import make_customer, make_draft
from tests.test_pagination_and_errors import assert_error


def _issued(api: Api, customer_id: int) -> dict:
    return dict(api.post(f"/invoices/{make_draft(api, customer_id)['id']}/issue").json())


def test_the_customer_list_carries_each_balance(api: Api) -> None:
    owing = make_customer(api, customer_no="1")
    paid_up = make_customer(api, customer_no="2")
    untouched = make_customer(api, customer_no="3")
    first, second = _issued(api, owing["id"]), _issued(api, owing["id"])
    api.post(f"/invoices/{second['id']}/payments", {"amount": 10000})
    settled = _issued(api, paid_up["id"])
    api.post(f"/invoices/{settled['id']}/payments", {"amount": settled["total"]})

    listed = {c["id"]: c["balance"] for c in api.get("/customers").json()["data"]}
    assert listed == {
        owing["id"]: first["total"] + second["total"] - 10000,
        paid_up["id"]: 0,
        untouched["id"]: 0,
    }
    for customer_id, balance in listed.items():  # the same figure as one customer's own page
        assert api.get(f"/customers/{customer_id}").json()["balance"] == balance
    # Filtered and paged lists too.
    page = api.get("/customers", params={"limit": 1, "customer_no": "1"}).json()["data"]
    assert [c["balance"] for c in page] == [listed[owing["id"]]]


def test_the_balances_of_a_page_are_one_query(api: Api) -> None:
    customers = [make_customer(api, customer_no=str(n)) for n in range(12)]
    for customer in customers[::3]:
        _issued(api, customer["id"])
    engine = api.client.app.state.db.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    from sqlalchemy import event

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        body = api.get("/customers", params={"limit": 10}).json()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(body["data"]) == 10 and all(isinstance(c["balance"], int) for c in body["data"])
    assert sum("journal_lines" in s for s in statements) == 1


def test_a_payment_dated_in_the_future_is_refused_naming_the_date(api: Api) -> None:
    invoice = _issued(api, make_customer(api)["id"])
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    error = assert_error(
        api.post(f"/invoices/{invoice['id']}/payments", {"amount": 10000, "date": tomorrow}),
        422,
        code="date_in_future",
        param="date",
    )
    assert tomorrow in error["message"]
    error = assert_error(api.post("/payments", {"amount": 10000, "date": tomorrow}), 422, param="date")
    assert error["code"] == "date_in_future"
    # Nothing was booked; today's date is accepted.
    assert api.get(f"/invoices/{invoice['id']}").json()["remaining"] == invoice["total"]
    today = clock.today().isoformat()
    paid = api.post(f"/invoices/{invoice['id']}/payments", {"amount": 10000, "date": today})
    assert paid.status_code == 200 and paid.json()["remaining"] == invoice["total"] - 10000


def test_an_allocation_error_names_the_invoice_by_the_id_the_request_used(api: Api) -> None:
    customer = make_customer(api)
    make_draft(api, customer["id"])  # a draft takes an id but no number: ids and numbers differ
    invoice = _issued(api, customer["id"])
    assert invoice["id"] != invoice["number"]
    unidentified = api.post("/payments", {"amount": invoice["total"] + 50000}).json()
    deviation = api.get("/deviations", params={"state": "open"}).json()["data"][0]
    assert deviation["payment"]["id"] == unidentified["id"]
    too_much = {"action": "match", "allocations": [{"invoice": invoice["id"], "amount": invoice["total"] + 100}]}
    error = assert_error(api.post(f"/deviations/{deviation['id']}/resolve", too_much), 422)
    assert error["param"] == "allocations[0].amount"
    assert error["message"].startswith(f"invoice {invoice['id']} (number {invoice['number']}) has ")
