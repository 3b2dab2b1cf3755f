"""Fakturor: filters, the invoice page, and its actions through the API's services, by role and
tenant."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.db import Database
from tests.admin.conftest import Staff, make_customer, make_issued


@pytest.fixture
def invoice(api: Any) -> dict[str, Any]:
    customer = make_customer(api, "K-1", name="Astrid Lindqvist")
    return make_issued(api, customer["id"])


def test_the_list_filters_by_state_and_amount(admin: Staff, api: Any, invoice: dict[str, Any]) -> None:
    other = make_customer(api, "K-2", name="Bertil Ek")
    big = make_issued(api, other["id"], unit_price=100_000)
    everything = admin.get("/admin/fakturor").text
    assert f'/admin/fakturor/{invoice["id"]}"' in everything and f'/admin/fakturor/{big["id"]}"' in everything
    small_only = admin.get("/admin/fakturor", params={"max": "500,00"}).text
    assert f'/admin/fakturor/{invoice["id"]}"' in small_only and f'/admin/fakturor/{big["id"]}"' not in small_only
    paid = admin.get("/admin/fakturor", params={"state": "paid"}).text
    assert f'/admin/fakturor/{invoice["id"]}"' not in paid
    assert admin.get("/admin/fakturor", params={"from": "inte-ett-datum"}).status_code == 422


def test_the_invoice_page_shows_lines_deliveries_and_timeline(admin: Staff, invoice: dict[str, Any]) -> None:
    page = admin.get(f"/admin/fakturor/{invoice['id']}")
    assert page.status_code == 200
    assert "Mobilabonnemang Fri" in page.text and "Tidslinje" in page.text and "issued" in page.text
    assert 'href="https://kvitt.test/i/' in page.text and '/pdf">PDF</a>' in page.text


def test_finance_credits_through_the_apis_service(
    staff_factory: Any, api: Any, invoice: dict[str, Any], db: Database
) -> None:
    finance = staff_factory("finance")
    answer = finance.post(f"/admin/fakturor/{invoice['id']}/kreditera", {"mode": "full", "reason": "Fel pris"})
    assert answer.status_code == 303, answer.text
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["state"] == "credited" and after["remaining"] == 0
    events = [e["type"] for e in api.get(f"/invoices/{invoice['id']}/events").json()["data"]]
    assert "credited" in events
    with db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "invoice.credit"))
    assert entry is not None and entry.before["state"] == "unpaid" and entry.after["state"] == "credited"
    # Crediting again is refused by the same rule as the API's, and nothing changes.
    again = finance.post(f"/admin/fakturor/{invoice['id']}/kreditera", {"mode": "full"})
    assert again.status_code == 422 and "cannot credit" in again.text


def test_finance_registers_a_manual_payment_and_writes_off_the_rest(
    staff_factory: Any, api: Any, invoice: dict[str, Any]
) -> None:
    finance = staff_factory("finance")
    paid = finance.post(f"/admin/fakturor/{invoice['id']}/betalning", {"amount": "95,00"})
    assert paid.status_code == 303, paid.text
    after = api.get(f"/invoices/{invoice['id']}").json()
    assert after["state"] == "partly_paid" and after["paid"] == 9500 and after["remaining"] == invoice["total"] - 9500
    assert finance.post(f"/admin/fakturor/{invoice['id']}/betalning", {"amount": "1,234"}).status_code == 422
    written = finance.post(f"/admin/fakturor/{invoice['id']}/skriv-av", {"reason": "Liten rest"})
    assert written.status_code == 303
    assert api.get(f"/invoices/{invoice['id']}").json()["state"] == "written_off"


def test_support_resends_but_may_not_credit_or_take_payments(
    staff_factory: Any, api: Any, invoice: dict[str, Any]
) -> None:
    support = staff_factory("support")
    before = len(api.get(f"/invoices/{invoice['id']}/deliveries").json()["data"])
    assert support.post(f"/admin/fakturor/{invoice['id']}/skicka", {"method": "email"}).status_code == 303
    deliveries = api.get(f"/invoices/{invoice['id']}/deliveries").json()["data"]
    assert len(deliveries) == before + 1 and deliveries[-1]["channel"] == "email"
    # The delivery service's own rule: no letter without a postal address.
    letter = support.post(f"/admin/fakturor/{invoice['id']}/skicka", {"method": "letter"})
    assert letter.status_code == 422 and "no postal address" in letter.text
    assert support.post(f"/admin/fakturor/{invoice['id']}/kreditera", {"mode": "full"}).status_code == 403
    assert support.post(f"/admin/fakturor/{invoice['id']}/betalning", {"amount": "10"}).status_code == 403
    assert support.post(f"/admin/fakturor/{invoice['id']}/skriv-av", {}).status_code == 403
    assert api.get(f"/invoices/{invoice['id']}").json()["state"] == "unpaid"


@pytest.mark.parametrize("role", ["read_only"])
def test_read_only_sees_but_does_nothing(staff_factory: Any, api: Any, invoice: dict[str, Any], role: str) -> None:
    staff = staff_factory(role)
    assert staff.get(f"/admin/fakturor/{invoice['id']}").status_code == 200
    for action, form in (("skicka", {}), ("meddelanden", {"text": "Hej"}), ("kreditera", {"mode": "full"})):
        assert staff.post(f"/admin/fakturor/{invoice['id']}/{action}", form).status_code == 403


def test_another_tenants_invoice_is_not_found(admin: Staff, api_b: Any, invoice: dict[str, Any]) -> None:
    theirs = make_issued(api_b, make_customer(api_b, "B-1")["id"])
    assert admin.get(f"/admin/fakturor/{theirs['id']}").status_code == 404
    assert f'/admin/fakturor/{theirs["id"]}"' not in admin.get("/admin/fakturor").text
    for action, form in (
        ("kreditera", {"mode": "full"}),
        ("betalning", {"amount": "10"}),
        ("skriv-av", {}),
        ("skicka", {}),
        ("meddelanden", {"text": "Hej"}),
    ):
        assert admin.post(f"/admin/fakturor/{theirs['id']}/{action}", form).status_code == 404, action
    assert api_b.get(f"/invoices/{theirs['id']}").json()["state"] == "unpaid"
    assert api_b.get(f"/invoices/{theirs['id']}/messages").json()["data"] == []


def test_support_gives_a_payment_extension_through_the_dunning_service(
    staff_factory: Any, api: Any, invoice: dict[str, Any]
) -> None:
    support = staff_factory("support")
    until = (date.fromisoformat(invoice["due_date"]) + timedelta(days=20)).isoformat()
    answer = support.post(f"/admin/fakturor/{invoice['id']}/anstand", {"until": until, "reason": "Sjuk"})
    assert answer.status_code == 303, answer.text
    extensions = api.get("/payment-extensions").json()["data"]
    assert [(e["invoice"], e["until"], e["state"]) for e in extensions] == [(invoice["id"], until, "approved")]
    # The service's own rule: a date before the due date is refused.
    early = support.post(f"/admin/fakturor/{invoice['id']}/anstand", {"until": "2020-01-01"})
    assert early.status_code == 422
    assert (
        staff_factory("read_only").post(f"/admin/fakturor/{invoice['id']}/anstand", {"until": "2027-02-01"}).status_code
        == 403
    )
