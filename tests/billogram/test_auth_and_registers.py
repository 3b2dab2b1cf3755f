"""Auth, the envelope and errors, and the item and customer registers, through the official
client against a live server."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from billogram_api import BillogramAPI, BillogramExceptions  # type: ignore[import-untyped]
from sqlalchemy import select

from kvitt.billogram.route import PREFIX
from kvitt.catalog.models import Item
from kvitt.core.db import Database
from kvitt.simulators import RunningServer
from tests.billogram.conftest import client_for
from tests.billogram.examples import example3_customer
from tests.conftest import TENANT_A

E = BillogramExceptions


def test_missing_and_wrong_credentials(server: RunningServer, db: Database) -> None:
    api, tenant_id, key = client_for(server, db, TENANT_A)
    answer = requests.get(server.url + PREFIX + "/item", timeout=10)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"status": "MISSING_AUTH", "data": {"message": "no authentication data was given"}}
    with pytest.raises(E.RequestFormError):  # what the client makes of MISSING_AUTH
        BillogramAPI("", "", api_base=server.url + PREFIX).items.query().count  # noqa: B018
    with pytest.raises(E.InvalidAuthenticationError):
        BillogramAPI(api._auth[0], key + "x", api_base=server.url + PREFIX).items.get("1")
    with pytest.raises(E.InvalidAuthenticationError):  # a good key with another user name
        BillogramAPI(f"{tenant_id}-0000000000", key, api_base=server.url + PREFIX).items.get("1")


def test_envelope_content_type_and_404(bg: BillogramAPI, server: RunningServer) -> None:
    bg.items.create({"item_no": "1", "title": "Mobilabonnemang", "price": 316, "vat": 25, "unit": "month"})
    answer = requests.get(server.url + PREFIX + "/item/1", auth=bg._auth, timeout=10)
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["status"] == "OK"
    assert answer.json()["data"]["price"] == 316
    with pytest.raises(E.ObjectNotFoundError):
        bg.items.get("nope")
    with pytest.raises(E.ObjectNotFoundError):
        bg.get("no-such-object")
    with pytest.raises(E.RequestFormError):  # 405
        bg.put("item", {})


def test_items_crud_money_exact(bg: BillogramAPI) -> None:
    item = bg.items.create({"item_no": "A-1", "title": "Gadget deluxe", "price": 199.99, "vat": 25, "unit": "piece"})
    assert item["price"] == 199.99 and item["vat"] == 25 and item["unit"] == "piece"
    item.update({"price": round(item["price"] * 1.1, 2)})  # example2 of the client
    assert item["price"] == 219.99
    assert bg.items.get("A-1")["price"] == 219.99
    with pytest.raises(E.InvalidFieldValueError) as info:
        item.update({"price": 10.005})
    assert info.value.field == "price"
    with pytest.raises(E.InvalidFieldValueError) as info:
        bg.items.create({"item_no": "A-2", "title": "x", "price": 1, "vat": 13})
    assert info.value.field == "vat"
    with pytest.raises(E.UnknownFieldError) as info:
        bg.items.create({"item_no": "A-2", "title": "x", "price": 1, "vat": 25, "colour": "red"})
    assert info.value.field == "colour"
    with pytest.raises(E.ReadOnlyFieldError):
        item.update({"created_at": "2026-01-01"})
    with pytest.raises(E.ReadOnlyFieldError):
        item.update({"item_no": "B-1"})
    item.delete()
    with pytest.raises(E.ObjectNotFoundError):
        bg.items.get("A-1")


def test_price_in_kronor_is_ore_in_kvitt(bg: BillogramAPI, server: RunningServer, db: Database) -> None:
    bg.items.create({"item_no": "7", "title": "Öre test", "price": 1234.07, "vat": 6})
    with db.transaction() as session:
        assert session.scalar(select(Item.unit_price).where(Item.article_no == "7")) == 123407
    answer = requests.get(server.url + PREFIX + "/item/7", auth=bg._auth, timeout=10)
    assert '"price":1234.07' in answer.text
    assert answer.json(parse_float=Decimal)["data"]["price"] == Decimal("1234.07")


def test_item_queries_and_paging(bg: BillogramAPI) -> None:
    for n in range(1, 8):
        title = f"Gadget {n}" if n % 2 else f"Widget {n}"
        bg.items.create({"item_no": f"G{n:02d}", "title": title, "price": n, "vat": 25})
    query = bg.items.query()
    query.filter_search("title", "gadget")
    assert query.count == 4
    query.page_size = 3
    assert [i["item_no"] for i in query.iter_all()] == ["G01", "G03", "G05", "G07"]
    prefix = bg.items.query().filter_prefix("item_no", "G0")
    assert prefix.count == 7
    exact = bg.items.query().filter_field("title", "Widget 4")
    assert [i["item_no"] for i in exact.get_page(1)] == ["G04"]
    search = bg.items.query().search("widget")
    assert search.count == 3
    ordered = bg.items.query()
    ordered.order = {"order_field": "title", "order_direction": "desc"}
    assert ordered.get_page(1)[0]["title"] == "Widget 6"
    with pytest.raises(E.RequestFormError):
        bg.items.query().filter_field("colour", "red").count  # noqa: B018


def test_customers_find_or_create_and_update(bg: BillogramAPI) -> None:
    """The client's example3, customer half: get, not found, create, update notes."""
    with pytest.raises(E.ObjectNotFoundError):
        bg.customers.get(12345)
    customer = bg.customers.create(example3_customer())
    assert customer["customer_no"] == 12345
    assert customer["contact"] == {"name": "Terkel Testsson", "email": "terkel@example.com", "phone": ""}
    assert customer["address"]["zipcode"] == "123 45"
    customer.update({"notes": "Last conversation was on invoice id 1"})
    fetched = bg.customers.get(12345)
    assert fetched["notes"] == "Last conversation was on invoice id 1"
    assert fetched["name"] == "Terkel Testsson"
    assert fetched["contact"]["email"] == "terkel@example.com"
    fetched.update({"address": {"city": "Uppsala"}})
    assert bg.customers.get(12345)["address"]["street_address"] == "Exempelgatan 123"
    assert bg.customers.get(12345)["address"]["city"] == "Uppsala"
    business = bg.customers.create(
        {"customer_no": 2, "name": "Volvo AB", "company_type": "business", "org_no": "556036-0793"}
    )
    assert business["company_type"] == "business" and business["org_no"] == "556036-0793"
    with pytest.raises(E.InvalidFieldValueError) as info:
        bg.customers.create({"customer_no": 3, "name": "X", "contact": {"email": "not an address"}})
    assert info.value.field == "email" and info.value.field_path == ["contact"]
    with pytest.raises(E.InvalidFieldValueError):  # the number is taken
        bg.customers.create({"customer_no": 2, "name": "Again"})
    assert bg.customers.query().search("volvo").count == 1
    assert bg.customers.query().filter_field("contact:email", "terkel@example.com").count == 1
    bg.customers.get(2).delete()
    assert bg.customers.query().count == 1


def test_tenant_isolation(bg: BillogramAPI, bg_b: BillogramAPI) -> None:
    bg.items.create({"item_no": "1", "title": "A's item", "price": 1, "vat": 25})
    bg.customers.create({"customer_no": 1, "name": "A's customer"})
    assert bg_b.items.query().count == 0 and bg_b.customers.query().count == 0
    with pytest.raises(E.ObjectNotFoundError):
        bg_b.items.get("1")
    with pytest.raises(E.ObjectNotFoundError):
        bg_b.customers.get(1)
    with pytest.raises(E.ObjectNotFoundError):
        bg_b.customers.get(1)
    bg_b.items.create({"item_no": "1", "title": "B's item", "price": 2, "vat": 12})
    assert bg.items.get("1")["title"] == "A's item"
    assert bg.items.get("1")["price"] == Decimal(1)


def test_example2_raise_the_price_of_gadgets_by_ten_percent(bg: BillogramAPI, db: Database) -> None:
    """The client's example2 as written: find "gadget" items, raise each price by 10 %."""
    for number, title, price in (("1", "Gadget", 100), ("2", "Big gadget", 45.5), ("3", "Widget", 10)):
        bg.items.create({"item_no": number, "title": title, "price": price, "vat": 25})
    qry = bg.items.query()
    qry.filter_search("title", "gadget")
    assert qry.count == 2
    for item in qry.iter_all():
        item.update({"price": round(item["price"] * 1.1, 2)})
    with db.transaction() as session:
        prices = {number: price for number, price in session.execute(select(Item.article_no, Item.unit_price))}
    assert prices == {"1": 11000, "2": 5005, "3": 1000}


def test_list_parameter_errors(bg: BillogramAPI, server: RunningServer) -> None:
    with pytest.raises(E.RequestFormError):  # MISSING_QUERY_PARAMETER
        bg.get("item", {"filter_type": "field", "filter_field": "title"})
    with pytest.raises(E.RequestFormError):  # INVALID_QUERY_PARAMETER
        bg.get("item", {"page_size": 101})
    with pytest.raises(E.RequestFormError):
        bg.get("billogram", {"filter_type": "field", "filter_field": "state", "filter_value": "Sleeping"})
    answer = requests.get(server.url + PREFIX + "/customer", params={"page": 0}, auth=bg._auth, timeout=10).json()
    assert answer == {
        "status": "INVALID_QUERY_PARAMETER",
        "data": {"message": "page must be a whole number from 1 to 1000000000", "field": "page"},
    }
    assert bg.get("billogram", {"filter_type": "field", "filter_field": "state", "filter_value": "Deleted"})[
        "meta"
    ] == {"total_count": 0}
