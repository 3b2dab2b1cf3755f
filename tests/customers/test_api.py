"""Customers: create, read, update, list, delete, with Swedish numbers normalised."""

from __future__ import annotations

from tests.conftest import Api


def test_create_normalises_numbers_and_takes_the_tenants_default_delivery(api: Api) -> None:
    response = api.post(
        "/customers",
        {"customer_no": "C-1", "name": "Astrid Lindqvist", "id_number": "811218-9876", "phone": "070-123 45 67"},
    )
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["object"] == "customer"
    assert customer["id_number"] == "198112189876"
    assert customer["phone"] == "+46701234567"
    assert customer["delivery_method"] == "email"
    assert customer["language"] == "sv"
    assert customer["balance"] == 0


def test_company_takes_an_organisation_number(api: Api) -> None:
    response = api.post(
        "/customers", {"customer_no": "F-1", "name": "Bygg & Betong AB", "type": "company", "id_number": "5560360793"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["id_number"] == "556036-0793"


def test_update_and_delete(api: Api) -> None:
    customer = api.post("/customers", {"customer_no": "C-2", "name": "Bo Ek"}).json()
    changed = api.patch(
        f"/customers/{customer['id']}", {"email": "bo@example.se", "delivery_method": "sms", "language": "en"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "bo@example.se"
    assert changed.json()["delivery_method"] == "sms"
    assert api.patch(f"/customers/{customer['id']}", {"name": None}).status_code == 422
    assert api.delete(f"/customers/{customer['id']}").json() == {
        "id": customer["id"],
        "object": "customer",
        "deleted": True,
    }
    assert api.get(f"/customers/{customer['id']}").status_code == 404


def test_a_customer_with_invoices_is_kept(api: Api) -> None:
    customer = api.post("/customers", {"customer_no": "C-3", "name": "Eva Ek"}).json()
    api.post(
        "/invoices",
        {"customer": customer["id"], "lines": [{"description": "x", "unit_price": 100, "vat_rate": 25}]},
    )
    response = api.delete(f"/customers/{customer['id']}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "customer_has_invoices"
    assert api.get(f"/customers/{customer['id']}").status_code == 200


def test_list_filters_by_customer_number(api: Api) -> None:
    for n in range(3):
        api.post("/customers", {"customer_no": f"N-{n}", "name": f"Kund {n}"})
    found = api.get("/customers", params={"customer_no": "N-1"}).json()
    assert [c["customer_no"] for c in found["data"]] == ["N-1"]


def test_what_the_database_cannot_hold_is_refused_with_the_field_named(api: Api) -> None:
    cases = [
        ({"customer_no": "X", "name": "A", "country": "Sweden"}, "country"),
        ({"customer_no": "X" * 41, "name": "A"}, "customer_no"),
        ({"customer_no": "X", "name": "A\x00B"}, "name"),
        ({"customer_no": "X", "name": "A", "attributes": {"segment": "v\x00ip"}}, "attributes"),
    ]
    for body, param in cases:
        response = api.post("/customers", body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["param"] == param
    assert api.get("/customers", params={"customer_no": "a\x00"}).status_code == 422
    assert api.patch("/tenant", {"accounts": {"receivables": "15100"}}).json()["error"]["param"] == "accounts"
