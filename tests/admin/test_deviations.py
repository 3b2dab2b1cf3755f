"""Avvikelser: the queue with suggestions, one-click resolution through payments.service.resolve."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kvitt.admin.texts import DEVIATION_KINDS
from tests.admin.conftest import Staff, make_customer, make_issued


@pytest.fixture
def unmatched(api: Any) -> dict[str, Any]:
    """An issued invoice, and a payment of its amount without a reference: a deviation."""
    customer = make_customer(api, "K-1", name="Astrid Lindqvist")
    invoice = make_issued(api, customer["id"])
    payment = api.post("/payments", {"amount": invoice["total"], "payer_name": "Astrid Lindqvist"})
    assert payment.status_code == 201, payment.text
    deviations = api.get("/deviations", params={"state": "open"}).json()["data"]
    assert len(deviations) == 1
    return {"invoice": invoice, "deviation": deviations[0], "customer": customer}


def test_the_queue_shows_the_suggested_match_and_one_click_resolves_it(
    staff_factory: Any, api: Any, unmatched: dict[str, Any]
) -> None:
    finance = staff_factory("finance")
    page = finance.get("/admin/avvikelser")
    assert page.status_code == 200
    invoice, deviation = unmatched["invoice"], unmatched["deviation"]
    assert f"Matcha mot faktura {invoice['number']}" in page.text
    form = re.search(r'name="invoice" value="(\d+)"><input type="hidden" name="amount" value="(\d+)"', page.text)
    assert form is not None and int(form.group(1)) == invoice["id"] and int(form.group(2)) == invoice["total"]
    answer = finance.post(
        f"/admin/avvikelser/{deviation['id']}/losning",
        {"action": "match", "invoice": form.group(1), "amount": form.group(2)},
    )
    assert answer.status_code == 303, answer.text
    assert api.get(f"/deviations/{deviation['id']}").json()["state"] == "resolved"
    assert api.get(f"/invoices/{invoice['id']}").json()["state"] == "paid"
    assert "Inga avvikelser att hantera." in finance.get("/admin/avvikelser").text
    resolved = finance.get("/admin/avvikelser?state=resolved").text
    assert DEVIATION_KINDS[deviation["kind"]] in resolved and "match (staff:finance@norrsken.test)" in resolved


def test_assign_to_a_customer_by_number(admin: Staff, api: Any, unmatched: dict[str, Any]) -> None:
    answer = admin.post(
        f"/admin/avvikelser/{unmatched['deviation']['id']}/losning", {"action": "assign", "customer_no": "K-1"}
    )
    assert answer.status_code == 303, answer.text
    assert (
        api.get(f"/deviations/{unmatched['deviation']['id']}").json()["resolution"]["customer"]
        == unmatched["customer"]["id"]
    )


def test_a_second_resolution_is_refused(admin: Staff, unmatched: dict[str, Any]) -> None:
    path = f"/admin/avvikelser/{unmatched['deviation']['id']}/losning"
    assert admin.post(path, {"action": "keep"}).status_code == 303
    again = admin.post(path, {"action": "refund"})
    assert again.status_code == 422 and "already resolved" in again.text


@pytest.mark.parametrize("role", ["support", "read_only"])
def test_only_finance_resolves(staff_factory: Any, api: Any, unmatched: dict[str, Any], role: str) -> None:
    staff = staff_factory(role)
    expected_view = 200 if role == "read_only" else 403
    assert staff.get("/admin/avvikelser").status_code == expected_view
    answer = staff.post(f"/admin/avvikelser/{unmatched['deviation']['id']}/losning", {"action": "keep"})
    assert answer.status_code == 403
    assert api.get(f"/deviations/{unmatched['deviation']['id']}").json()["state"] == "open"


def test_another_tenants_deviation_is_neither_shown_nor_resolved(
    admin: Staff, api_b: Any, unmatched: dict[str, Any]
) -> None:
    assert api_b.post("/payments", {"amount": 12345, "payer_name": "Mallory"}).status_code == 201
    theirs = api_b.get("/deviations").json()["data"][0]
    assert "Mallory" not in admin.get("/admin/avvikelser").text
    assert admin.post(f"/admin/avvikelser/{theirs['id']}/losning", {"action": "keep"}).status_code == 404
    assert api_b.get(f"/deviations/{theirs['id']}").json()["state"] == "open"
