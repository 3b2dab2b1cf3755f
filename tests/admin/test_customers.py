"""Kunder: search by every field a caller may name, the customer page, its actions by role, and
nothing of another tenant."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kvitt.admin.models import AuditEntry
from kvitt.core.db import Database
from tests.admin.conftest import Staff, make_customer, make_issued


@pytest.fixture
def astrid(api: Any) -> dict[str, Any]:
    customer = make_customer(
        api,
        "K-77",
        name="Astrid Lindqvist",
        email="astrid@example.se",
        phone="070-123 45 67",
        id_number="19811218-9876",
    )
    customer["invoice"] = make_issued(api, customer["id"])
    make_customer(api, "K-78", name="Bertil Ek", email="bertil@example.se")
    return customer


@pytest.mark.parametrize(
    "q",
    ["lindq", "ASTRID", "K-77", "astrid@example.se", "0701234567", "+46 70-123 45 67", "198112189876", "811218-9876"],
)
def test_search_finds_the_customer_by_what_a_caller_says(admin: Staff, astrid: dict[str, Any], q: str) -> None:
    page = admin.get("/admin/kunder", params={"q": q})
    assert page.status_code == 200
    assert f'/admin/kunder/{astrid["id"]}"' in page.text
    assert "Bertil Ek" not in page.text


def test_search_by_invoice_number_and_ocr(admin: Staff, astrid: dict[str, Any]) -> None:
    for q in (str(astrid["invoice"]["number"]), astrid["invoice"]["ocr"]):
        assert f'/admin/kunder/{astrid["id"]}"' in admin.get("/admin/kunder", params={"q": q}).text


def test_the_customer_page_shows_invoices_ledger_and_timeline(admin: Staff, astrid: dict[str, Any]) -> None:
    page = admin.get(f"/admin/kunder/{astrid['id']}")
    assert page.status_code == 200
    text = page.text
    assert "Astrid Lindqvist" in text and "Reskontra" in text and "Tidslinje" in text
    assert f"/admin/fakturor/{astrid['invoice']['id']}" in text
    assert "395,00\xa0kr" in text  # 316 kr + 25 % VAT, the running balance of the ledger


def test_another_tenants_customer_is_not_found_nor_found_by_search(
    admin: Staff, api_b: Any, astrid: dict[str, Any]
) -> None:
    theirs = make_customer(api_b, "K-77", name="Astrid Lindqvist B", email="astrid@example.se")
    assert admin.get(f"/admin/kunder/{theirs['id']}").status_code == 404
    found = admin.get("/admin/kunder", params={"q": "astrid"}).text
    assert f'/admin/kunder/{theirs["id"]}"' not in found and "Lindqvist B" not in found
    assert admin.post(f"/admin/kunder/{theirs['id']}/paus", {"reason": "x"}).status_code == 404


def test_support_changes_the_channel_and_it_is_audited(
    staff_factory: Any, astrid: dict[str, Any], api: Any, db: Database
) -> None:
    support = staff_factory("support")
    answer = support.post(
        f"/admin/kunder/{astrid['id']}/kontakt",
        {"email": "astrid@example.se", "phone": "0701234567", "delivery_method": "sms"},
    )
    assert answer.status_code == 303, answer.text
    assert api.get(f"/customers/{astrid['id']}").json()["delivery_method"] == "sms"
    with db.read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "customer.update"))
    assert entry is not None and entry.before["delivery_method"] == "email" and entry.after["delivery_method"] == "sms"
    assert entry.staff_email == "support@norrsken.test"


def test_a_refused_change_changes_nothing(admin: Staff, astrid: dict[str, Any], api: Any) -> None:
    answer = admin.post(
        f"/admin/kunder/{astrid['id']}/kontakt", {"email": "inte-en-adress", "phone": "", "delivery_method": "email"}
    )
    assert answer.status_code == 422
    assert api.get(f"/customers/{astrid['id']}").json()["email"] == "astrid@example.se"


@pytest.mark.parametrize("role", ["read_only", "marketing"])
def test_reading_roles_may_not_act(staff_factory: Any, astrid: dict[str, Any], api: Any, role: str) -> None:
    staff = staff_factory(role)
    answer = staff.post(f"/admin/kunder/{astrid['id']}/paus", {"reason": "Ring först"})
    assert answer.status_code == 403
    change = staff.post(f"/admin/kunder/{astrid['id']}/kontakt", {"delivery_method": "letter"})
    assert change.status_code == 403
    assert api.get(f"/customers/{astrid['id']}").json()["delivery_method"] == "email"


def test_marketing_may_not_open_customers(staff_factory: Any, astrid: dict[str, Any]) -> None:
    assert staff_factory("marketing").get(f"/admin/kunder/{astrid['id']}").status_code == 403


def test_finance_pauses_dunning(staff_factory: Any, astrid: dict[str, Any]) -> None:
    finance = staff_factory("finance")
    answer = finance.post(f"/admin/kunder/{astrid['id']}/paus", {"reason": "Tvist om fakturan", "until": "2027-01-31"})
    assert answer.status_code == 303, answer.text
    page = finance.get(f"/admin/kunder/{astrid['id']}").text
    assert "Tvist om fakturan" in page and "Pausad" in page


def test_the_customer_page_lists_subscriptions(admin: Staff, api: Any, astrid: dict[str, Any]) -> None:
    item = api.post("/items", {"article_no": "MOB-1", "title": "Mobil", "unit_price": 31600, "vat_rate": 25}).json()
    body = {"customer": astrid["id"], "interval": "month", "start_date": "2026-12-01", "lines": [{"item": item["id"]}]}
    created = api.post("/subscriptions", body)
    assert created.status_code == 201, created.text
    page = admin.get(f"/admin/kunder/{astrid['id']}").text
    assert "Abonnemang och autogiro" in page and "2026-12-01" in page and "Inga abonnemang." not in page
