"""Cursor pagination (``limit``, ``starting_after``, ``has_more``, newest first), the invoice
list's filters, and the one error shape every failure answers with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api

ERROR_FIELDS = {"type", "code", "message", "param"}


def assert_error(response: Any, status: int, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) >= ERROR_FIELDS, error
    assert error["message"], error
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] == param, error
    return dict(error)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


# --- the things to list -------------------------------------------------------------------------


def _customer(api: Api, n: int) -> int:
    return int(ok(api.post("/customers", {"customer_no": f"C{n:03d}", "name": f"Kund {n}"}), 201)["id"])


def _item(api: Api, n: int) -> int:
    body = {"article_no": f"A{n:03d}", "title": f"Artikel {n}", "unit_price": 100 * n, "vat_rate": 25}
    return int(ok(api.post("/items", body), 201)["id"])


def _invoice(api: Api, n: int) -> int:
    customers = ok(api.get("/customers", params={"customer_no": "INV"}))["data"]
    customer = customers[0]["id"] if customers else _customer_no(api, "INV")
    lines = [{"description": f"Rad {n}", "quantity": "1", "unit_price": 1000 + n, "vat_rate": 25}]
    return int(ok(api.post("/invoices", {"customer": customer, "lines": lines}), 201)["id"])


def _customer_no(api: Api, customer_no: str) -> int:
    return int(ok(api.post("/customers", {"customer_no": customer_no, "name": "Kund"}), 201)["id"])


LISTS: dict[str, Callable[[Api, int], int]] = {"/customers": _customer, "/items": _item, "/invoices": _invoice}


def make_many(api: Api, path: str, count: int) -> list[int]:
    return [LISTS[path](api, n) for n in range(count)]


def walk(api: Api, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list, each as returned."""
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": limit, **params, **({"starting_after": cursor} if cursor else {})}
        page = ok(api.get(path, params=query))
        pages.append(page)
        if not page["has_more"]:
            return pages
        assert page["data"], "has_more with an empty page"
        cursor = page["data"][-1]["id"]
        assert len(pages) < 100, "pagination does not end"


# --- pagination -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(LISTS))
def test_pages_are_newest_first_and_cover_everything_once(api: Api, path: str) -> None:
    ids = make_many(api, path, 25)
    pages = walk(api, path, limit=10)
    assert [len(p["data"]) for p in pages] == [10, 10, 5]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert all(p["object"] == "list" and set(p) == {"object", "data", "has_more"} for p in pages)
    listed = [obj["id"] for p in pages for obj in p["data"]]
    assert listed == sorted(ids, reverse=True)
    expected_object = {"/customers": "customer", "/items": "item", "/invoices": "invoice"}[path]
    assert {obj["object"] for p in pages for obj in p["data"]} == {expected_object}
    created = [obj["created_at"] for p in pages for obj in p["data"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize("path", sorted(LISTS))
def test_default_limit_is_10(api: Api, path: str) -> None:
    ids = make_many(api, path, 12)
    page = ok(api.get(path))
    assert [o["id"] for o in page["data"]] == sorted(ids, reverse=True)[:10]
    assert page["has_more"] is True


@pytest.mark.parametrize("path", sorted(LISTS))
def test_has_more_is_exact_at_the_boundary(api: Api, path: str) -> None:
    ids = make_many(api, path, 5)
    assert ok(api.get(path, params={"limit": 5}))["has_more"] is False
    assert ok(api.get(path, params={"limit": 4}))["has_more"] is True
    assert ok(api.get(path, params={"limit": 100}))["has_more"] is False
    last = ok(api.get(path, params={"limit": 1, "starting_after": sorted(ids)[1]}))
    assert [o["id"] for o in last["data"]] == [min(ids)] and last["has_more"] is False
    assert ok(api.get(path, params={"starting_after": min(ids)})) == {"object": "list", "data": [], "has_more": False}


def test_an_empty_list(api: Api) -> None:
    for path in LISTS:
        assert ok(api.get(path)) == {"object": "list", "data": [], "has_more": False}


def test_the_cursor_survives_the_deletion_of_its_object(api: Api) -> None:
    ids = sorted(make_many(api, "/customers", 6), reverse=True)
    first = ok(api.get("/customers", params={"limit": 3}))
    cursor = first["data"][-1]["id"]
    assert ok(api.delete(f"/customers/{cursor}"))["deleted"] is True
    rest = ok(api.get("/customers", params={"limit": 3, "starting_after": cursor}))
    assert [c["id"] for c in rest["data"]] == ids[3:]


def test_new_objects_do_not_shift_a_walk_in_progress(api: Api) -> None:
    ids = sorted(make_many(api, "/items", 6), reverse=True)
    first = ok(api.get("/items", params={"limit": 3}))
    ok(api.post("/items", {"article_no": "NEW", "title": "Ny", "unit_price": 1, "vat_rate": 25}), 201)
    rest = ok(api.get("/items", params={"limit": 3, "starting_after": first["data"][-1]["id"]}))
    assert [i["id"] for i in first["data"] + rest["data"]] == ids


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", ""])
def test_limit_out_of_bounds_is_422(api: Api, path: str, limit: str) -> None:
    assert_error(api.get(path, params={"limit": limit}), 422, code="invalid_value", param="limit")


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("cursor", ["abc", "0", "-5", str(2**63)])
def test_a_bad_cursor_is_422(api: Api, path: str, cursor: str) -> None:
    assert_error(api.get(path, params={"starting_after": cursor}), 422, param="starting_after")


def test_limit_bounds_themselves_are_accepted(api: Api) -> None:
    make_many(api, "/customers", 3)
    assert len(ok(api.get("/customers", params={"limit": 1}))["data"]) == 1
    assert len(ok(api.get("/customers", params={"limit": 100}))["data"]) == 3


def test_customer_and_item_filters(api: Api) -> None:
    anna = ok(api.post("/customers", {"customer_no": "1", "name": "Anna", "email": "anna@example.se"}), 201)
    ok(api.post("/customers", {"customer_no": "2", "name": "Bo", "email": "bo@example.se"}), 201)
    assert [c["id"] for c in ok(api.get("/customers", params={"customer_no": "1"}))["data"]] == [anna["id"]]
    assert [c["id"] for c in ok(api.get("/customers", params={"email": "anna@example.se"}))["data"]] == [anna["id"]]
    assert ok(api.get("/customers", params={"customer_no": "3"}))["data"] == []
    on, off = make_many(api, "/items", 2)
    ok(api.patch(f"/items/{off}", {"active": False}))
    assert [i["id"] for i in ok(api.get("/items", params={"active": "true"}))["data"]] == [on]
    assert [i["id"] for i in ok(api.get("/items", params={"active": "false"}))["data"]] == [off]
    assert_error(api.get("/items", params={"active": "maybe"}), 422, param="active")


# --- the invoice list's filters ---------------------------------------------------------------------


@pytest.fixture
def ledger_of_invoices(api: Api) -> dict[str, Any]:
    """inv1 (c1, Jan, partly credited → overdue), inv2 (c2, Feb, paid), inv3 (c1, Mar, draft),
    inv4 (c2, draft without dates), note (credit note of inv1, dated today)."""
    c1, c2 = _customer_no(api, "c1"), _customer_no(api, "c2")
    line = [{"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]

    def draft(customer: int, **dates: str) -> dict[str, Any]:
        return dict(ok(api.post("/invoices", {"customer": customer, "lines": line, **dates}), 201))

    inv1 = draft(c1, invoice_date="2024-01-10", due_date="2024-02-09")
    inv2 = draft(c2, invoice_date="2024-02-10", due_date="2024-03-11")
    inv3 = draft(c1, invoice_date="2024-03-10", due_date="2024-04-09")
    inv4 = draft(c2)
    inv1 = ok(api.post(f"/invoices/{inv1['id']}/issue"))
    inv2 = ok(api.post(f"/invoices/{inv2['id']}/issue"))
    ok(api.post(f"/invoices/{inv2['id']}/payments", {"amount": inv2["total"]}))
    note = ok(api.post(f"/invoices/{inv1['id']}/credit", {"mode": "amount", "amount": 2500}), 201)
    ids = {"inv1": inv1["id"], "inv2": inv2["id"], "inv3": inv3["id"], "inv4": inv4["id"], "note": note["id"]}
    return {"c1": c1, "c2": c2, "ids": ids, "inv1": inv1, "inv2": inv2, "note": note}


def listed(api: Api, **params: Any) -> list[int]:
    return [i["id"] for i in ok(api.get("/invoices", params={"limit": 100, **params}))["data"]]


def names(fx: dict[str, Any], *keys: str) -> list[int]:
    return sorted((fx["ids"][k] for k in keys), reverse=True)


def test_invoice_filter_by_state(api: Api, ledger_of_invoices: dict[str, Any]) -> None:
    fx = ledger_of_invoices
    assert listed(api, state="draft") == names(fx, "inv3", "inv4")
    assert listed(api, state="overdue") == names(fx, "inv1")
    assert listed(api, state="paid") == names(fx, "inv2", "note")  # a credit note is settled at once
    assert listed(api, state="unpaid") == []


def test_invoice_filter_by_customer_and_kind(api: Api, ledger_of_invoices: dict[str, Any]) -> None:
    fx = ledger_of_invoices
    assert listed(api, customer=fx["c1"]) == names(fx, "inv1", "inv3", "note")
    assert listed(api, customer=fx["c2"]) == names(fx, "inv2", "inv4")
    assert listed(api, kind="credit_note") == names(fx, "note")
    assert listed(api, kind="invoice") == names(fx, "inv1", "inv2", "inv3", "inv4")
    assert listed(api, customer=fx["c1"], state="draft") == names(fx, "inv3")
    assert listed(api, customer=fx["c2"], kind="credit_note") == []
    assert listed(api, customer=987654321) == []


def test_invoice_filter_by_dates_inclusive(api: Api, ledger_of_invoices: dict[str, Any]) -> None:
    fx = ledger_of_invoices
    assert listed(api, invoice_date_from="2024-02-01") == names(fx, "inv2", "inv3", "note")
    assert listed(api, invoice_date_to="2024-02-10") == names(fx, "inv1", "inv2")
    assert listed(api, invoice_date_from="2024-02-10", invoice_date_to="2024-02-10") == names(fx, "inv2")
    assert listed(api, invoice_date_from="2024-02-11", invoice_date_to="2024-03-09") == []
    assert listed(api, due_date_from="2024-03-11") == names(fx, "inv2", "inv3", "note")
    assert listed(api, due_date_to="2024-02-09") == names(fx, "inv1")
    assert listed(api, due_date_from="2024-03-01", due_date_to="2024-04-09") == names(fx, "inv2", "inv3")
    assert listed(api, invoice_date_from="2024-03-01", invoice_date_to="2024-01-01") == []
    assert listed(api, invoice_date_from="2024-01-01", kind="invoice", state="draft") == names(fx, "inv3")


def test_invoice_filter_by_number_and_ocr(api: Api, ledger_of_invoices: dict[str, Any]) -> None:
    fx = ledger_of_invoices
    assert (fx["inv1"]["number"], fx["inv2"]["number"], fx["note"]["number"]) == (1, 2, 3)
    assert listed(api, number=3) == names(fx, "note")
    assert listed(api, ocr=fx["inv2"]["ocr"]) == names(fx, "inv2")
    assert listed(api, number=99) == []


def test_filters_and_pagination_together(api: Api, ledger_of_invoices: dict[str, Any]) -> None:
    fx = ledger_of_invoices
    pages = walk(api, "/invoices", limit=1, customer=fx["c1"])
    assert [[i["id"] for i in p["data"]] for p in pages] == [[i] for i in names(fx, "inv1", "inv3", "note")]
    assert [p["has_more"] for p in pages] == [True, True, False]
    pages = walk(api, "/invoices", limit=2, kind="invoice")
    assert [i["id"] for p in pages for i in p["data"]] == names(fx, "inv1", "inv2", "inv3", "inv4")


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("state", "bogus"),
        ("state", "DRAFT"),
        ("kind", "receipt"),
        ("customer", "abc"),
        ("customer", "0"),
        ("number", "-1"),
        ("invoice_date_from", "2024-13-01"),
        ("invoice_date_to", "yesterday"),
        ("due_date_from", "2024-02-30"),
        ("due_date_to", "20240101x"),
    ],
)
def test_a_bad_invoice_filter_is_422_naming_it(api: Api, param: str, value: str) -> None:
    assert_error(api.get("/invoices", params={param: value}), 422, code="invalid_value", param=param)


# --- the error shape -----------------------------------------------------------------------------------


def test_an_unknown_endpoint_is_a_json_404(client: TestClient, api: Api) -> None:
    error = assert_error(api.get("/no-such-thing"), 404, code="resource_missing")
    assert error["type"] == "invalid_request_error"
    assert_error(client.get("/api/v1/no-such-thing"), 404)


def test_an_unknown_page_outside_the_api_is_html(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_a_wrong_method_is_a_json_405(api: Api) -> None:
    response = api.client.put("/api/v1/customers", json={}, headers={"Authorization": f"Bearer {api.key}"})
    assert_error(response, 405)


def test_malformed_json_is_400(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    response = api.client.post("/api/v1/customers", content=b'{"customer_no": "1", ', headers=headers)
    assert_error(response, 400, code="invalid_json", param="body")


def test_a_body_that_is_not_an_object_is_422(api: Api) -> None:
    assert_error(api.post("/customers", ["customer_no", "1"]), 422)
    assert_error(api.post("/customers", None), 422)


def test_a_missing_field_is_named(api: Api) -> None:
    error = assert_error(api.post("/customers", {"customer_no": "1"}), 422, code="parameter_missing", param="name")
    assert error["message"].startswith("name: ")


def test_an_unknown_field_is_named(api: Api) -> None:
    assert_error(api.post("/customers", {"customer_no": "1", "name": "Bo", "nmae": "Bo"}), 422, param="nmae")
    assert ok(api.get("/customers"))["data"] == []


def test_every_error_is_listed_with_its_param(api: Api) -> None:
    error = assert_error(api.post("/items", {"article_no": "", "unit_price": 1.5, "vat_rate": 24}), 422)
    params = {e["param"] for e in error["errors"]}
    assert {"article_no", "title", "unit_price", "vat_rate"} <= params
    assert all(e["message"] for e in error["errors"])
    assert error["param"] == error["errors"][0]["param"]


@pytest.mark.parametrize("path", ["/customers/abc", "/items/1.5", "/invoices/0", "/invoices/-3/events"])
def test_a_malformed_path_id_is_422_naming_it(api: Api, path: str) -> None:
    error = assert_error(api.get(path), 422)
    assert error["param"] in {"customer_id", "item_id", "invoice_id"}


def test_an_unexpected_crash_is_a_json_500_that_tells_nothing_inside(
    app: Any, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kvitt.customers import service as customers

    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("postgresql://kvitt:hunter2@db/kvitt is down")

    monkeypatch.setattr(customers, "create", crash)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            "/api/v1/customers", json={"customer_no": "1", "name": "Bo"}, headers={"Authorization": f"Bearer {api.key}"}
        )
    error = assert_error(response, 500)
    assert error["type"] == "api_error"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
