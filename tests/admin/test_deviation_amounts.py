"""Avvikelser: a split of one payment over several invoices and a partial refund, through
``payments.service.resolve`` (as the API's ``resolve`` with ``allocations`` and ``amount``), in
plain forms; the service's refusals shown at the deviation with what was typed (422), nothing
changed; roles, CSRF, the audit row, and another tenant's invoice number."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kvitt.core.db import Database
from tests.admin.conftest import Staff, make_customer, make_issued
from tests.admin.test_customer_actions import audit_count, audited


def kronor(ore: int) -> str:
    return f"{ore // 100},{ore % 100:02d}"


@pytest.fixture
def two_open(api: Any) -> dict[str, Any]:
    """Two issued invoices of one customer and a payment without a reference worth the first
    and 100 kr of the second: an open deviation."""
    customer = make_customer(api, "K-5", name="Astrid Lindqvist")
    first, second = make_issued(api, customer["id"]), make_issued(api, customer["id"])
    paid = first["total"] + 10000
    assert api.post("/payments", {"amount": paid, "payer_name": "Astrid Lindqvist"}).status_code == 201
    (deviation,) = api.get("/deviations", params={"state": "open"}).json()["data"]
    return {"first": first, "second": second, "deviation": deviation, "paid": paid}


def split_form(rows: list[tuple[Any, str]]) -> dict[str, str]:
    form = {"action": "match", "split": "1"}
    for index, (number, amount) in enumerate(rows, 1):
        form[f"number_{index}"], form[f"amount_{index}"] = str(number), amount
    return form


def state(api: Any, case: dict[str, Any]) -> Any:
    return (
        api.get(f"/deviations/{case['deviation']['id']}").json(),
        api.get(f"/invoices/{case['first']['id']}").json(),
        api.get(f"/invoices/{case['second']['id']}").json(),
    )


def test_the_page_has_the_split_and_refund_forms_without_javascript(admin: Staff, two_open: dict[str, Any]) -> None:
    page = admin.get("/admin/avvikelser").text
    deviation_id = two_open["deviation"]["id"]
    form = re.search(rf'<form method="post" action="/admin/avvikelser/{deviation_id}/losning"[^>]*split[^>]*>', page)
    assert form is not None
    assert 'name="split" value="1"' in page and 'name="number_4"' in page and 'name="amount_4"' in page
    assert 'name="refund_amount"' in page


def test_finance_splits_a_payment_over_two_invoices(
    staff_factory: Any, api: Any, db: Database, two_open: dict[str, Any]
) -> None:
    first, second = two_open["first"], two_open["second"]
    finance = staff_factory("finance")
    form = split_form([(first["number"], kronor(first["total"])), ("", ""), (second["number"], "100")])
    answer = finance.post(f"/admin/avvikelser/{two_open['deviation']['id']}/losning", form)
    assert answer.status_code == 303, answer.text
    deviation, after_first, after_second = state(api, two_open)
    assert deviation["state"] == "resolved"
    assert deviation["resolution"]["allocations"] == [
        {"invoice": first["id"], "amount": first["total"]},
        {"invoice": second["id"], "amount": 10000},
    ]
    assert after_first["state"] == "paid" and after_first["remaining"] == 0
    assert after_second["state"] == "partly_paid" and after_second["remaining"] == second["total"] - 10000
    assert deviation["payment"]["unallocated"] == 0
    (entry,) = audited(db, "deviation.resolve")
    assert entry.before["state"] == "open" and entry.after["allocations"] == deviation["resolution"]["allocations"]
    assert entry.target == f"deviation:{deviation['id']}"


def test_a_split_that_leaves_money_keeps_it_unallocated(admin: Staff, api: Any, two_open: dict[str, Any]) -> None:
    second = two_open["second"]
    answer = admin.post(
        f"/admin/avvikelser/{two_open['deviation']['id']}/losning", split_form([(second["number"], "50,50")])
    )
    assert answer.status_code == 303, answer.text
    deviation, _, after_second = state(api, two_open)
    assert deviation["payment"]["unallocated"] == two_open["paid"] - 5050
    assert after_second["remaining"] == second["total"] - 5050


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            lambda c: [(c["first"]["number"], kronor(c["first"]["total"])), (c["second"]["number"], "100,01")],
            "öre asked for, but the payment holds",
        ),
        (lambda c: [(c["first"]["number"], kronor(c["first"]["total"] + 100))], "öre left"),
        (lambda c: [("99999", "10")], "no invoice number 99999"),
        (lambda c: [(c["first"]["number"], "")], "write an amount in kronor"),
        (lambda c: [("", "")], "write at least one invoice number"),
        (lambda c: [(c["first"]["number"], "12,345")], "write an amount in kronor"),
    ],
    ids=["more-than-the-payment", "more-than-the-invoice", "unknown-number", "no-amount", "empty", "three-decimals"],
)
def test_the_services_refusals_are_shown_at_the_deviation_and_change_nothing(
    admin: Staff, api: Any, db: Database, two_open: dict[str, Any], rows: Any, message: str
) -> None:
    before = state(api, two_open)
    form = split_form(rows(two_open))
    deviation_id = two_open["deviation"]["id"]
    answer = admin.post(f"/admin/avvikelser/{deviation_id}/losning", form)
    assert answer.status_code == 422, answer.text
    shown = re.search(rf'<p class="alert" role="alert" id="dev-{deviation_id}-error">([^<]+)</p>', answer.text)
    assert shown is not None and message in shown.group(1), answer.text[:3000]
    # The form keeps what was typed.
    if form["number_1"]:
        assert 'name="number_1" type="text" inputmode="numeric" autocomplete="off"' in answer.text
        assert re.search(rf'name="number_1"[^>]*value="{form["number_1"]}"', answer.text)
    assert state(api, two_open) == before
    assert audit_count(db) == 0


def test_another_tenants_invoice_number_is_refused_and_theirs_unchanged(
    admin: Staff, api: Any, api_b: Any, db: Database, two_open: dict[str, Any]
) -> None:
    """B has more invoices than A: B's last number is one A does not have."""
    customer_b = make_customer(api_b, "B-1")
    theirs = [make_issued(api_b, customer_b["id"]) for _ in range(3)][-1]
    mine = {two_open["first"]["number"], two_open["second"]["number"]}
    assert theirs["number"] not in mine
    before = api_b.get(f"/invoices/{theirs['id']}").json()
    answer = admin.post(
        f"/admin/avvikelser/{two_open['deviation']['id']}/losning", split_form([(theirs["number"], "10")])
    )
    assert answer.status_code == 422 and f"no invoice number {theirs['number']}" in answer.text
    assert api_b.get(f"/invoices/{theirs['id']}").json() == before
    assert api.get(f"/deviations/{two_open['deviation']['id']}").json()["state"] == "open"


def test_a_partial_refund(staff_factory: Any, api: Any, db: Database, two_open: dict[str, Any]) -> None:
    finance = staff_factory("finance")
    path = f"/admin/avvikelser/{two_open['deviation']['id']}/losning"
    assert finance.post(path, {"action": "refund", "refund_amount": "150,25"}).status_code == 303
    deviation = api.get(f"/deviations/{two_open['deviation']['id']}").json()
    assert deviation["state"] == "resolved" and deviation["resolution"]["amount"] == 15025
    assert deviation["payment"]["unallocated"] == two_open["paid"] - 15025
    refunds = [a for a in deviation["payment"]["allocations"] if a["kind"] == "refund"]
    assert [a["amount"] for a in refunds] == [15025]
    (entry,) = audited(db, "deviation.resolve")
    assert entry.after["action"] == "refund" and entry.after["amount"] == 15025


def test_a_refund_of_more_than_the_payment_holds_is_refused(
    admin: Staff, api: Any, db: Database, two_open: dict[str, Any]
) -> None:
    before = state(api, two_open)
    path = f"/admin/avvikelser/{two_open['deviation']['id']}/losning"
    answer = admin.post(path, {"action": "refund", "refund_amount": kronor(two_open["paid"] + 1)})
    assert answer.status_code == 422 and "but the payment holds" in answer.text
    assert re.search(r'name="refund_amount"[^>]*value="[^"]+"', answer.text)  # kept as typed
    assert state(api, two_open) == before and audit_count(db) == 0


@pytest.mark.parametrize("role", ["support", "marketing", "read_only"])
def test_only_finance_splits_or_refunds(
    staff_factory: Any, api: Any, db: Database, two_open: dict[str, Any], role: str
) -> None:
    before = state(api, two_open)
    staff = staff_factory(role)
    path = f"/admin/avvikelser/{two_open['deviation']['id']}/losning"
    split = split_form([(two_open["second"]["number"], "100")])
    assert staff.post(path, split).status_code == 403
    assert staff.post(path, {"action": "refund", "refund_amount": "1"}).status_code == 403
    assert state(api, two_open) == before and audit_count(db) == 0


def test_without_the_csrf_token_nothing_is_split(
    admin: Staff, api: Any, db: Database, two_open: dict[str, Any]
) -> None:
    before = state(api, two_open)
    path = f"/admin/avvikelser/{two_open['deviation']['id']}/losning"
    assert admin.post(path, split_form([(two_open["second"]["number"], "100")]), csrf="").status_code == 403
    assert admin.post(path, {"action": "refund", "refund_amount": "1"}, csrf="").status_code == 403
    assert state(api, two_open) == before and audit_count(db) == 0
