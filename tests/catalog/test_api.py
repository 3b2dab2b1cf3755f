"""Items: what invoice lines are made from."""

from __future__ import annotations

from tests.conftest import Api


def test_item_lifecycle(api: Api) -> None:
    created = api.post(
        "/items", {"article_no": "ABO-FRI", "title": "Mobilabonnemang Fri", "unit_price": 31600, "vat_rate": 25}
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["unit"] == "st" and item["active"] is True and item["account"] is None
    duplicate = api.post("/items", {"article_no": "ABO-FRI", "title": "x", "unit_price": 1, "vat_rate": 25})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["param"] == "article_no"
    changed = api.patch(f"/items/{item['id']}", {"unit_price": 29900, "account": "3011"}).json()
    assert changed["unit_price"] == 29900 and changed["account"] == "3011"
    assert api.patch(f"/items/{item['id']}", {"account": "30"}).status_code == 422
    assert api.get("/items", params={"active": "true"}).json()["data"][0]["id"] == item["id"]


def test_an_item_on_an_invoice_cannot_be_deleted_but_can_be_deactivated(api: Api) -> None:
    item = api.post("/items", {"article_no": "SURF", "title": "Surf 5 GB", "unit_price": 4900, "vat_rate": 25}).json()
    customer = api.post("/customers", {"customer_no": "1", "name": "Kund"}).json()
    api.post("/invoices", {"customer": customer["id"], "lines": [{"item": item["id"]}]})
    assert api.delete(f"/items/{item['id']}").status_code == 409
    assert api.patch(f"/items/{item['id']}", {"active": False}).json()["active"] is False
    unused = api.post("/items", {"article_no": "X", "title": "X", "unit_price": 1, "vat_rate": 0}).json()
    assert api.delete(f"/items/{unused['id']}").json()["deleted"] is True
