"""Every query is scoped to its tenant: tenant A can neither see nor touch tenant B's objects.

The routes are enumerated from the app itself: a route added under ``/api/v1`` without a case
here makes ``test_every_api_route_has_an_isolation_case`` fail ("route not covered").

For a route with an id in its path, B creates the object (in a state where the call would
succeed for B), A calls it and must get the same 404 as for an id that never existed (not
403: a foreign id must not even be confirmed to exist), B's object must be unchanged, and
then the same call made by B must succeed, which shows the setup was valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from kvitt.core.api import TenantRoute
from tests.admin.isolation_cases import MESSAGES_OTHER_ROUTES
from tests.autogiro.isolation_cases import AUTOGIRO_ID_ROUTES, AUTOGIRO_OTHER_ROUTES
from tests.checkout.isolation_cases import CHECKOUT_ID_ROUTES
from tests.conftest import Api
from tests.dunning.isolation_cases import DUNNING_ID_ROUTES, DUNNING_OTHER_ROUTES
from tests.reports.isolation_cases import REPORTS_OTHER_ROUTES
from tests.segments.isolation_cases import SEGMENTS_ID_ROUTES, SEGMENTS_OTHER_ROUTES

PREFIX = "/api/v1"
ERROR_FIELDS = {"type", "code", "message", "param"}
MISSING_ID = 987654321
PUBLIC_PATHS = {PREFIX + "/openapi.json"}


# --- helpers -----------------------------------------------------------------------------------


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_customer(api: Api, customer_no: str = "1001", **fields: Any) -> dict[str, Any]:
    body = {"customer_no": customer_no, "name": "Astrid Lindqvist", "email": f"c{customer_no}@example.se"}
    return created(api.post("/customers", {**body, **fields}))


def make_item(api: Api, article_no: str = "MOB-1", **fields: Any) -> dict[str, Any]:
    body = {"article_no": article_no, "title": "Mobilabonnemang", "unit_price": 31600, "vat_rate": 25}
    return created(api.post("/items", {**body, **fields}))


def make_draft(api: Api, customer_id: int, **fields: Any) -> dict[str, Any]:
    lines = [{"description": "Mobilabonnemang Fri", "quantity": "1", "unit_price": 31600, "vat_rate": 25}]
    return created(api.post("/invoices", {"customer": customer_id, "lines": lines, **fields}))


def make_issued(api: Api, customer_id: int) -> dict[str, Any]:
    draft = make_draft(api, customer_id)
    response = api.post(f"/invoices/{draft['id']}/issue")
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_error(response: Any, status: int, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) >= ERROR_FIELDS, error
    assert isinstance(error["type"], str) and isinstance(error["code"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] == param, error
    return dict(error)


@dataclass
class Found:
    path: str  # without the /api/v1 prefix
    methods: set[str]
    route: Any  # the route object as declared (APIRoute, TenantRoute, a plain Starlette Route...)


def api_routes(app: Any) -> list[Found]:
    """Every route under /api/v1 except the public OpenAPI document.

    FastAPI 0.165 keeps included routers as branches (``_IncludedRouter``) rather than copying
    their routes into ``app.routes``; ``iter_route_contexts`` walks them. Older FastAPI copies.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - FastAPI before the included-router rework
        contexts: list[Any] = [r for r in app.routes if isinstance(r, APIRoute)]
        pairs = [(r, r) for r in contexts]
    else:
        pairs = [(c, c.original_route) for c in iter_route_contexts(app.routes)]
    found = []
    for context, route in pairs:
        path = context.path or ""
        if not path.startswith(PREFIX + "/") or path in PUBLIC_PATHS:
            continue
        found.append(Found(path.removeprefix(PREFIX), set(context.methods or ()) - {"HEAD"}, route))
    return found


def route_keys(app: Any) -> set[tuple[str, str]]:
    return {(method, r.path) for r in api_routes(app) for method in r.methods}


def fill_path(path: str, value: int | str) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


def call(api: Api, method: str, path: str, body: Any = None) -> Any:
    if method == "GET":
        return api.get(path)
    if method == "DELETE":
        return api.delete(path)
    if method == "POST":
        return api.post(path, body)
    if method == "PATCH":
        return api.patch(path, body)
    raise AssertionError(f"no helper for {method}")


# --- routes that take the id of a tenant's object ----------------------------------------------


@dataclass
class Foreign:
    """An object of tenant B and how B sees it (the snapshot that must not change)."""

    id: int
    snapshot: Callable[[], Any]


def _b_customer(api_b: Api) -> Foreign:
    customer = make_customer(api_b, "B-1", id_number="19811218-9876")
    return Foreign(customer["id"], lambda: api_b.get(f"/customers/{customer['id']}").json())


def _b_item(api_b: Api) -> Foreign:
    item = make_item(api_b, "B-ITEM")
    return Foreign(item["id"], lambda: api_b.get(f"/items/{item['id']}").json())


def _invoice_snapshot(api_b: Api, invoice_id: int, customer_id: int) -> Callable[[], Any]:
    def snapshot() -> Any:
        return {
            "invoice": api_b.get(f"/invoices/{invoice_id}").json(),
            "events": api_b.get(f"/invoices/{invoice_id}/events").json(),
            "balance": api_b.get(f"/customers/{customer_id}").json()["balance"],
            "invoices": [i["id"] for i in api_b.get("/invoices", params={"limit": 100}).json()["data"]],
        }

    return snapshot


def _b_draft(api_b: Api) -> Foreign:
    customer = make_customer(api_b, "B-2")
    draft = make_draft(api_b, customer["id"])
    return Foreign(draft["id"], _invoice_snapshot(api_b, draft["id"], customer["id"]))


def _b_issued(api_b: Api) -> Foreign:
    customer = make_customer(api_b, "B-3")
    invoice = make_issued(api_b, customer["id"])
    return Foreign(invoice["id"], _invoice_snapshot(api_b, invoice["id"], customer["id"]))


def _b_issued_to_company(api_b: Api) -> Foreign:
    # A company buyer: its organisation number is its Peppol address, so B's own e-invoice call works.
    customer = make_customer(api_b, "B-6", type="company", id_number="556036-0793")
    invoice = make_issued(api_b, customer["id"])
    return Foreign(invoice["id"], _invoice_snapshot(api_b, invoice["id"], customer["id"]))


def _b_api_key(api_b: Api) -> Foreign:
    key = created(api_b.post("/api-keys", {"name": "second"}))
    return Foreign(key["id"], lambda: api_b.get("/api-keys").json())


SAMPLE_BGMAX = Path(__file__).parent / "data" / "bankgirot" / "bgmax_sample_ocr_check_length.txt"


def upload(api: Api, data: bytes) -> Any:
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/octet-stream"}
    return api.client.post(PREFIX + "/payment-files", content=data, headers=headers)


def _b_payment_file(api_b: Api) -> Foreign:
    # Bankgirot's sample pays bankgiro 991-2346, which is tenant B's.
    file = created(upload(api_b, SAMPLE_BGMAX.read_bytes()))
    return Foreign(file["id"], lambda: api_b.get(f"/payment-files/{file['id']}").json())


def _b_payment(api_b: Api) -> Foreign:
    customer = make_customer(api_b, "B-4")
    payment = created(api_b.post("/payments", {"amount": 5000, "customer": customer["id"]}))
    return Foreign(payment["id"], lambda: api_b.get(f"/payments/{payment['id']}").json())


def _b_deviation(api_b: Api) -> Foreign:
    created(api_b.post("/payments", {"amount": 5000, "reference": "okänd"}))
    (deviation,) = api_b.get("/deviations").json()["data"]
    return Foreign(deviation["id"], lambda: api_b.get(f"/deviations/{deviation['id']}").json())


def _b_customer_with_entries(api_b: Api) -> Foreign:
    customer = make_customer(api_b, "B-5")
    make_issued(api_b, customer["id"])
    return Foreign(customer["id"], lambda: api_b.get(f"/customers/{customer['id']}/ledger").json())


BILLING_FILE = (
    "customer_no,customer_name,email,phone,id_number,address,postal_code,city,delivery_method,invoice_ref,"
    "invoice_date,due_date,item_no,description,quantity,unit_price,vat_rate,info\n"
    "1001,Astrid Lindqvist,astrid@example.se,,,,,,email,F-1,2026-11-30,,,Mobilabonnemang,1,199.00,25,\n"
)


def upload_billing_file(api: Api, data: str, **params: str) -> Any:
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "text/csv"}
    return api.client.post(PREFIX + "/billing-files", content=data.encode(), headers=headers, params=params)


def _b_billing_file(api_b: Api) -> Foreign:
    file = created(upload_billing_file(api_b, BILLING_FILE, issue="true"))
    return Foreign(file["id"], lambda: api_b.get(f"/billing-files/{file['id']}").json())


def _b_issued_with_delivery(api_b: Api) -> Foreign:
    customer = make_customer(api_b, "B-6")
    invoice = make_issued(api_b, customer["id"])
    created_delivery = api_b.post(f"/invoices/{invoice['id']}/send", {"method": "email"})
    assert created_delivery.status_code == 202, created_delivery.text
    snapshot = _invoice_snapshot(api_b, invoice["id"], customer["id"])
    return Foreign(
        invoice["id"],
        lambda: {"invoice": snapshot(), "deliveries": api_b.get(f"/invoices/{invoice['id']}/deliveries").json()},
    )


def _b_endpoint(api_b: Api) -> Foreign:
    endpoint = created(api_b.post("/webhook-endpoints", {"url": "https://b.example.se/hooks", "events": ["*"]}))
    return Foreign(endpoint["id"], lambda: api_b.get(f"/webhook-endpoints/{endpoint['id']}").json())


def _b_endpoint_with_delivery(api_b: Api) -> Foreign:
    from kvitt.worker import Worker

    # Nothing listens on port 9 (discard): the delivery's attempt fails at once.
    endpoint = created(api_b.post("/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks", "events": ["*"]}))
    make_issued(api_b, make_customer(api_b, "B-7")["id"])
    app = api_b.client.app
    Worker(app.state.db, app.state.settings, worker_id="isolation").run_until_idle()  # type: ignore[attr-defined]
    deliveries = api_b.get(f"/webhook-endpoints/{endpoint['id']}/deliveries", params={"limit": 100}).json()["data"]
    # The replay route takes the endpoint's and the delivery's id, filled with one value here.
    assert endpoint["id"] in {d["id"] for d in deliveries}, deliveries
    return Foreign(
        endpoint["id"],
        lambda: api_b.get(f"/webhook-endpoints/{endpoint['id']}/deliveries", params={"limit": 100}).json(),
    )


def _b_rule(api_b: Api) -> Foreign:
    body = {"name": "B", "trigger": "invoice.issued", "actions": [{"type": "add_tag", "tag": "b"}]}
    rule = created(api_b.post("/automation-rules", body))
    return Foreign(
        rule["id"],
        lambda: {
            "rule": api_b.get(f"/automation-rules/{rule['id']}").json(),
            "firings": api_b.get(f"/automation-rules/{rule['id']}/firings").json(),
        },
    )


def _b_subscription(api_b: Api) -> Foreign:
    customer = make_customer(api_b, "B-SUB")
    lines = [{"description": "Mobil Fri", "quantity": "1", "unit_price": 29900, "vat_rate": 25}]
    body = {"customer": customer["id"], "lines": lines, "start_date": "2026-01-01"}
    sub = created(api_b.post("/subscriptions", body))
    return Foreign(sub["id"], lambda: api_b.get(f"/subscriptions/{sub['id']}").json())


def _b_paused_subscription(api_b: Api) -> Foreign:
    foreign = _b_subscription(api_b)
    assert api_b.post(f"/subscriptions/{foreign.id}/pause", {"start": "2026-03-01"}).status_code == 200
    return foreign


def _b_billing_run(api_b: Api) -> Foreign:
    _b_subscription(api_b)
    run = api_b.post("/billing-runs", {"date": "2026-01-01"})
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    # A running run's duration grows by itself; everything else must stay as it was.
    return Foreign(run_id, lambda: {**api_b.get(f"/billing-runs/{run_id}").json(), "duration_seconds": None})


# (method, path) → (how B makes the object, the body A sends, the status B gets for the same call)
ID_ROUTES: dict[tuple[str, str], tuple[Callable[[Api], Foreign], Any, int]] = {
    ("GET", "/customers/{customer_id}"): (_b_customer, None, 200),
    ("PATCH", "/customers/{customer_id}"): (_b_customer, {"name": "Mallory"}, 200),
    ("DELETE", "/customers/{customer_id}"): (_b_customer, None, 200),
    ("GET", "/items/{item_id}"): (_b_item, None, 200),
    ("PATCH", "/items/{item_id}"): (_b_item, {"title": "Stulen", "unit_price": 1}, 200),
    ("DELETE", "/items/{item_id}"): (_b_item, None, 200),
    ("GET", "/invoices/{invoice_id}"): (_b_draft, None, 200),
    ("PATCH", "/invoices/{invoice_id}"): (_b_draft, {"notes": "hacked"}, 200),
    ("DELETE", "/invoices/{invoice_id}"): (_b_draft, None, 200),
    ("POST", "/invoices/{invoice_id}/issue"): (_b_draft, None, 200),
    ("POST", "/invoices/{invoice_id}/credit"): (_b_issued, {"mode": "full"}, 201),
    ("POST", "/invoices/{invoice_id}/payments"): (_b_issued, {"amount": 100}, 200),
    ("POST", "/invoices/{invoice_id}/write-off"): (_b_issued, {}, 200),
    ("GET", "/invoices/{invoice_id}/events"): (_b_issued, None, 200),
    ("GET", "/invoices/{invoice_id}/messages"): (_b_issued, None, 200),
    ("POST", "/invoices/{invoice_id}/messages"): (_b_issued, {"text": "Hej från A"}, 201),
    ("GET", "/invoices/{invoice_id}/web"): (_b_issued, None, 200),
    ("GET", "/invoices/{invoice_id}/pdf"): (_b_issued, None, 200),
    ("GET", "/invoices/{invoice_id}/ubl"): (_b_issued_to_company, None, 200),
    ("DELETE", "/api-keys/{key_id}"): (_b_api_key, None, 200),
    ("GET", "/customers/{customer_id}/ledger"): (_b_customer_with_entries, None, 200),
    ("GET", "/payment-files/{file_id}"): (_b_payment_file, None, 200),
    ("GET", "/billing-files/{file_id}"): (_b_billing_file, None, 200),
    ("GET", "/payments/{payment_id}"): (_b_payment, None, 200),
    ("GET", "/deviations/{deviation_id}"): (_b_deviation, None, 200),
    ("POST", "/deviations/{deviation_id}/resolve"): (_b_deviation, {"action": "keep"}, 200),
    ("POST", "/invoices/{invoice_id}/send"): (_b_issued_with_delivery, {"method": "email"}, 202),
    ("GET", "/invoices/{invoice_id}/deliveries"): (_b_issued_with_delivery, None, 200),
    ("GET", "/webhook-endpoints/{endpoint_id}"): (_b_endpoint, None, 200),
    ("PATCH", "/webhook-endpoints/{endpoint_id}"): (_b_endpoint, {"url": "https://mallory.example/h"}, 200),
    ("DELETE", "/webhook-endpoints/{endpoint_id}"): (_b_endpoint, None, 200),
    ("POST", "/webhook-endpoints/{endpoint_id}/rotate-secret"): (_b_endpoint, {}, 200),
    ("GET", "/webhook-endpoints/{endpoint_id}/deliveries"): (_b_endpoint_with_delivery, None, 200),
    ("POST", "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay"): (
        _b_endpoint_with_delivery,
        None,
        200,
    ),
    ("GET", "/automation-rules/{rule_id}"): (_b_rule, None, 200),
    ("PATCH", "/automation-rules/{rule_id}"): (_b_rule, {"name": "Mallory"}, 200),
    ("DELETE", "/automation-rules/{rule_id}"): (_b_rule, None, 200),
    ("POST", "/automation-rules/{rule_id}/enable"): (_b_rule, None, 200),
    ("POST", "/automation-rules/{rule_id}/disable"): (_b_rule, None, 200),
    ("GET", "/automation-rules/{rule_id}/firings"): (_b_rule, None, 200),
    ("GET", "/subscriptions/{subscription_id}"): (_b_subscription, None, 200),
    ("PATCH", "/subscriptions/{subscription_id}"): (_b_subscription, {"notes": "hacked"}, 200),
    ("POST", "/subscriptions/{subscription_id}/pause"): (_b_subscription, {}, 200),
    ("POST", "/subscriptions/{subscription_id}/resume"): (_b_paused_subscription, {}, 200),
    ("POST", "/subscriptions/{subscription_id}/cancel"): (_b_subscription, {}, 200),
    ("POST", "/subscriptions/{subscription_id}/period-info"): (
        _b_subscription,
        {"period_start": "2026-01-01", "blocks": [{"title": "Data", "text": "3 GB"}]},
        200,
    ),
    ("GET", "/billing-runs/{run_id}"): (_b_billing_run, None, 200),
}
ID_ROUTES.update(DUNNING_ID_ROUTES)
ID_ROUTES.update(AUTOGIRO_ID_ROUTES)
ID_ROUTES.update(CHECKOUT_ID_ROUTES)
ID_ROUTES.update(SEGMENTS_ID_ROUTES)


# --- routes without an id: what each one must show -------------------------------------------


def _tenant_get(api: Api, api_b: Api) -> None:
    mine, theirs = api.get("/tenant"), api_b.get("/tenant")
    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["id"] == api.tenant_id and mine.json()["org_number"] == "556036-0793"
    assert theirs.json()["id"] == api_b.tenant_id and theirs.json()["org_number"] == "556016-0680"


def _tenant_patch(api: Api, api_b: Api) -> None:
    before_b = api_b.get("/tenant").json()
    response = api.patch("/tenant", {"city": "Kiruna", "payment_terms_days": 10, "invoice_fee": 2900})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == api.tenant_id
    assert api.get("/tenant").json()["city"] == "Kiruna"
    assert api_b.get("/tenant").json() == before_b
    # A cannot name another tenant in the body either.
    assert_error(api.patch("/tenant", {"id": api_b.tenant_id}), 422, param="id")
    assert_error(api.patch("/tenant", {"org_number": "556016-0680"}), 422, param="org_number")
    assert api_b.get("/tenant").json() == before_b


def _api_keys_post(api: Api, api_b: Api) -> None:
    before_b = api_b.get("/api-keys").json()
    key = created(api.post("/api-keys", {"name": "ci"}))
    assert key["secret"]
    as_new_key = Api(api.client, key["secret"], api.tenant_id)
    assert as_new_key.get("/tenant").json()["id"] == api.tenant_id
    assert key["id"] in [k["id"] for k in api.get("/api-keys").json()["data"]]
    assert api_b.get("/api-keys").json() == before_b


def _api_keys_list(api: Api, api_b: Api) -> None:
    created(api_b.post("/api-keys", {"name": "b-extra"}))
    created(api.post("/api-keys", {"name": "a-extra"}))
    mine = api.get("/api-keys").json()
    theirs = api_b.get("/api-keys").json()
    assert mine["object"] == "list" and len(mine["data"]) == 2 and len(theirs["data"]) == 2
    assert not {k["id"] for k in mine["data"]} & {k["id"] for k in theirs["data"]}
    assert all("secret" not in k or k["secret"] is None for k in mine["data"])


def _customers_post(api: Api, api_b: Api) -> None:
    theirs = make_customer(api_b, "1001")
    before_b = api_b.get("/customers").json()
    mine = make_customer(api, "1001")  # the same customer number is free in another tenant
    assert mine["id"] != theirs["id"]
    assert api_b.get("/customers").json() == before_b
    assert [c["id"] for c in api.get("/customers").json()["data"]] == [mine["id"]]


def _customers_list(api: Api, api_b: Api) -> None:
    b_ids = {make_customer(api_b, f"B{i}", email="shared@example.se")["id"] for i in range(3)}
    a_ids = {make_customer(api, f"A{i}")["id"] for i in range(2)}
    listed = api.get("/customers", params={"limit": 100}).json()
    assert {c["id"] for c in listed["data"]} == a_ids
    assert api.get("/customers", params={"customer_no": "B0"}).json()["data"] == []
    assert api.get("/customers", params={"email": "shared@example.se"}).json()["data"] == []
    assert {c["id"] for c in api_b.get("/customers", params={"limit": 100}).json()["data"]} == b_ids


def _items_post(api: Api, api_b: Api) -> None:
    theirs = make_item(api_b, "MOB-1")
    before_b = api_b.get("/items").json()
    mine = make_item(api, "MOB-1")
    assert mine["id"] != theirs["id"]
    assert api_b.get("/items").json() == before_b


def _items_list(api: Api, api_b: Api) -> None:
    b_ids = {make_item(api_b, f"B{i}")["id"] for i in range(3)}
    a_ids = {make_item(api, f"A{i}")["id"] for i in range(2)}
    assert {i["id"] for i in api.get("/items", params={"limit": 100}).json()["data"]} == a_ids
    assert {i["id"] for i in api.get("/items", params={"active": True}).json()["data"]} == a_ids
    assert {i["id"] for i in api_b.get("/items", params={"limit": 100}).json()["data"]} == b_ids


def _invoices_post(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    b_item = make_item(api_b, "B-ITEM")
    a_customer = make_customer(api, "A-1")
    before_b = api_b.get("/invoices").json()
    line = {"description": "x", "quantity": "1", "unit_price": 100, "vat_rate": 25}
    # B's customer and B's item cannot be put on A's invoice: the same 404 as for a missing id.
    assert_error(api.post("/invoices", {"customer": b_customer["id"], "lines": [line]}), 404, param="customer")
    assert_error(
        api.post("/invoices", {"customer": a_customer["id"], "lines": [{"item": b_item["id"]}]}),
        404,
        param="lines[0].item",
    )
    draft = make_draft(api, a_customer["id"])
    assert_error(api.patch(f"/invoices/{draft['id']}", {"customer": b_customer["id"]}), 404, param="customer")
    assert_error(api.patch(f"/invoices/{draft['id']}", {"lines": [{"item": b_item["id"]}]}), 404, param="lines[0].item")
    after = api.get(f"/invoices/{draft['id']}").json()
    assert after["customer"] == a_customer["id"] and after["lines"] == draft["lines"]
    assert api_b.get("/invoices").json() == before_b
    assert api_b.get(f"/invoices/{draft['id']}").status_code == 404


def _invoices_list(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    b_ids = {make_issued(api_b, b_customer["id"])["id"], make_draft(api_b, b_customer["id"])["id"]}
    a_customer = make_customer(api, "A-1")
    a_issued = make_issued(api, a_customer["id"])
    a_ids = {a_issued["id"], make_draft(api, a_customer["id"])["id"]}
    assert {i["id"] for i in api.get("/invoices", params={"limit": 100}).json()["data"]} == a_ids
    assert api.get("/invoices", params={"customer": b_customer["id"]}).json()["data"] == []
    # Both tenants have an invoice number 1 (each its own series); A finds only its own.
    by_number = api.get("/invoices", params={"number": 1}).json()["data"]
    assert [i["id"] for i in by_number] == [a_issued["id"]]
    b_invoice = api_b.get("/invoices", params={"number": 1}).json()["data"][0]
    # Number 1 gives both the same OCR reference: searching by it still finds only A's own.
    assert [i["id"] for i in api.get("/invoices", params={"ocr": b_invoice["ocr"]}).json()["data"]] == [a_issued["id"]]
    for state in ("draft", "unpaid"):
        assert {i["id"] for i in api.get("/invoices", params={"state": state}).json()["data"]} <= a_ids
    assert {i["id"] for i in api_b.get("/invoices", params={"limit": 100}).json()["data"]} == b_ids


def _payment_files_post(api: Api, api_b: Api) -> None:
    # A cannot import B's bank file into its own books (it pays B's bankgiro), nor see B's.
    created(upload(api_b, SAMPLE_BGMAX.read_bytes()))
    assert_error(upload(api, SAMPLE_BGMAX.read_bytes()), 422, code="invalid_file")
    assert api.get("/payment-files").json()["data"] == []
    assert api.get("/payments").json()["data"] == []


def _payment_files_list(api: Api, api_b: Api) -> None:
    theirs = created(upload(api_b, SAMPLE_BGMAX.read_bytes()))
    assert api.get("/payment-files").json()["data"] == []
    assert [f["id"] for f in api_b.get("/payment-files").json()["data"]] == [theirs["id"]]


def _billing_files_post(api: Api, api_b: Api) -> None:
    # The same bytes, the same customer number and invoice_ref in B: A's import is A's own
    # (the content hash, the refs and the customers are per tenant), and B's data is untouched.
    make_customer(api_b, "1001", name="B:s kund", email="b@example.se")
    theirs = created(upload_billing_file(api_b, BILLING_FILE.replace("1001,Astrid Lindqvist,astrid@", "1001,,b@")))
    before_b = (api_b.get("/customers").json(), api_b.get("/invoices").json(), api_b.get("/billing-files").json())
    mine = created(upload_billing_file(api, BILLING_FILE, issue="true"))
    assert mine["id"] != theirs["id"] and mine["invoices"] == 1 and mine["skipped"] == 0
    assert mine["customers_created"] == 1 and mine["customers_updated"] == 0
    after_b = (api_b.get("/customers").json(), api_b.get("/invoices").json(), api_b.get("/billing-files").json())
    assert after_b == before_b
    # With upsert off, a customer number only B has is unknown to A.
    make_customer(api_b, "B-9")
    only_b = BILLING_FILE.replace("1001,", "B-9,").replace("F-1", "F-2")
    assert_error(upload_billing_file(api, only_b, upsert_customers="false"), 422, code="invalid_file")


def _billing_files_list(api: Api, api_b: Api) -> None:
    theirs = created(upload_billing_file(api_b, BILLING_FILE))
    assert api.get("/billing-files").json()["data"] == []
    assert [f["id"] for f in api_b.get("/billing-files").json()["data"]] == [theirs["id"]]


def _payments_post(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    before_b = api_b.get(f"/customers/{b_customer['id']}").json()
    assert_error(api.post("/payments", {"amount": 100, "customer": b_customer["id"]}), 404, param="customer")
    b_invoice = make_issued(api_b, b_customer["id"])
    # A's money with B's OCR reference pays nothing of B's: it is A's unidentified money.
    mine = created(api.post("/payments", {"amount": b_invoice["total"], "reference": b_invoice["ocr"]}))
    assert mine["customer"] is None and mine["allocations"] == []
    assert api_b.get(f"/invoices/{b_invoice['id']}").json()["state"] == "unpaid"
    assert api_b.get(f"/customers/{b_customer['id']}").json()["balance"] == before_b["balance"] + b_invoice["total"]


def _payments_list(api: Api, api_b: Api) -> None:
    created(api_b.post("/payments", {"amount": 100, "reference": "b"}))
    mine = created(api.post("/payments", {"amount": 200, "reference": "a"}))
    assert [p["id"] for p in api.get("/payments").json()["data"]] == [mine["id"]]
    assert len(api_b.get("/payments").json()["data"]) == 1


def _deviations_list(api: Api, api_b: Api) -> None:
    created(api_b.post("/payments", {"amount": 100, "reference": "b"}))
    assert api.get("/deviations").json()["data"] == []
    assert len(api_b.get("/deviations").json()["data"]) == 1


def _deviations_report(api: Api, api_b: Api) -> None:
    created(api_b.post("/payments", {"amount": 100, "reference": "b"}))
    mine = api.get("/reports/deviations").json()
    assert mine["unmatched"]["count"] == 0
    assert api_b.get("/reports/deviations").json()["unmatched"]["count"] == 1


def _ledger_sie(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    make_issued(api_b, b_customer["id"])
    make_issued(api_b, b_customer["id"])
    make_issued(api, make_customer(api, "A-1")["id"])
    period = {"from": "2000-01-01", "to": "2099-12-31"}
    mine, theirs = api.get("/ledger/sie", params=period), api_b.get("/ledger/sie", params=period)
    assert mine.status_code == theirs.status_code == 200
    # A's file holds A's one journal entry, under A's name; B's holds B's two.
    assert b"#ORGNR 556036-0793\r\n" in mine.content and b"556016-0680" not in mine.content
    assert mine.content.count(b"#VER ") == 1 and theirs.content.count(b"#VER ") == 2


def _reports_aging(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    b_total = sum(make_issued(api_b, b_customer["id"])["total"] for _ in range(2))
    a_customer = make_customer(api, "A-1")
    a_total = make_issued(api, a_customer["id"])["total"]
    period = {"as_of": "2099-12-31"}
    mine, theirs = api.get("/reports/aging", params=period).json(), api_b.get("/reports/aging", params=period).json()
    assert [c["customer"] for c in mine["customers"]] == [a_customer["id"]] and mine["total"]["total"] == a_total
    assert [c["customer"] for c in theirs["customers"]] == [b_customer["id"]] and theirs["total"]["total"] == b_total
    # Naming B's customer shows A nothing: the same empty report as for a customer that does not exist.
    foreign = api.get("/reports/aging", params={**period, "customer": b_customer["id"]}).json()
    assert foreign["customers"] == [] and foreign["total"]["total"] == 0


def _delivery_settings_get(api: Api, api_b: Api) -> None:
    assert api_b.patch("/delivery/settings", {"attach_pdf": True, "fallback": {"email": []}}).status_code == 200
    mine = api.get("/delivery/settings").json()
    assert mine["attach_pdf"] is False and mine["fallback"]["email"] == ["letter"]
    assert api_b.get("/delivery/settings").json()["attach_pdf"] is True


def _delivery_settings_patch(api: Api, api_b: Api) -> None:
    before_b = api_b.get("/delivery/settings").json()
    response = api.patch("/delivery/settings", {"attach_pdf": True, "fallback": {"sms": ["letter"]}})
    assert response.status_code == 200, response.text
    assert api.get("/delivery/settings").json()["fallback"]["sms"] == ["letter"]
    assert api_b.get("/delivery/settings").json() == before_b


def _delivery_bounces(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    b_invoice = make_issued(api_b, b_customer["id"])
    b_delivery = created_202(api_b.post(f"/invoices/{b_invoice['id']}/send", {"method": "email"}))
    before_b = api_b.get(f"/invoices/{b_invoice['id']}/deliveries").json()
    # A cannot bounce B's email, by B's invoice id: the same 404 as for an invoice A never had.
    assert_error(api.post("/delivery/bounces", {"invoice": b_invoice["id"]}), 404, param="invoice")
    assert_error(api.post("/delivery/bounces", {"invoice": MISSING_ID}), 404, param="invoice")
    assert api_b.get(f"/invoices/{b_invoice['id']}/deliveries").json() == before_b
    # B's own report finds it (still waiting to be sent, so nothing changes yet).
    mine = api_b.post("/delivery/bounces", {"invoice": b_invoice["id"]})
    assert mine.status_code == 200 and mine.json()["id"] == b_delivery["id"]


def created_202(response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    return dict(response.json())


def _webhook_endpoints_post(api: Api, api_b: Api) -> None:
    theirs = created(api_b.post("/webhook-endpoints", {"url": "https://b.example.se/h", "events": ["*"]}))
    before_b = api_b.get("/webhook-endpoints").json()
    mine = created(api.post("/webhook-endpoints", {"url": "https://a.example.se/h", "events": ["*"]}))
    assert mine["id"] != theirs["id"] and mine["secret"] != theirs["secret"]
    assert api_b.get("/webhook-endpoints").json() == before_b


def _webhook_endpoints_list(api: Api, api_b: Api) -> None:
    b_ids = {
        created(api_b.post("/webhook-endpoints", {"url": f"https://b{i}.se", "events": ["*"]}))["id"] for i in range(2)
    }
    a_id = created(api.post("/webhook-endpoints", {"url": "https://a.se", "events": ["*"]}))["id"]
    assert [e["id"] for e in api.get("/webhook-endpoints").json()["data"]] == [a_id]
    assert {e["id"] for e in api_b.get("/webhook-endpoints").json()["data"]} == b_ids


def _event_types(api: Api, api_b: Api) -> None:
    # The catalogue is Kvitt's, the same for every tenant, and holds no tenant's data.
    mine, theirs = api.get("/event-types"), api_b.get("/event-types")
    assert mine.status_code == theirs.status_code == 200 and mine.json() == theirs.json()


def _automation_rules_post(api: Api, api_b: Api) -> None:
    b_endpoint = created(api_b.post("/webhook-endpoints", {"url": "https://b.example.se/h", "events": ["*"]}))
    before_b = api_b.get("/automation-rules").json()
    # A rule of A cannot call B's webhook endpoint: the same 404 as for an endpoint that does not exist.
    body = {"name": "A", "trigger": "invoice.issued", "actions": [{"type": "webhook", "endpoint": b_endpoint["id"]}]}
    assert_error(api.post("/automation-rules", body), 404, param="actions[0].endpoint")
    mine = created(api.post("/automation-rules", {**body, "actions": [{"type": "add_tag", "tag": "a"}]}))
    assert [r["id"] for r in api.get("/automation-rules").json()["data"]] == [mine["id"]]
    assert api_b.get("/automation-rules").json() == before_b


def _automation_rules_list(api: Api, api_b: Api) -> None:
    body = {"name": "x", "trigger": "invoice.issued", "actions": [{"type": "add_tag", "tag": "x"}]}
    b_ids = {created(api_b.post("/automation-rules", body))["id"] for _ in range(2)}
    a_id = created(api.post("/automation-rules", body))["id"]
    assert [r["id"] for r in api.get("/automation-rules").json()["data"]] == [a_id]
    assert {r["id"] for r in api_b.get("/automation-rules").json()["data"]} == b_ids


def _automation_templates_list(api: Api, api_b: Api) -> None:
    installed = created(api_b.post("/automation-rules/templates", {"template": "email_failed_letter"}))
    assert {t["installed"] for t in api.get("/automation-rules/templates").json()["data"]} == {None}
    theirs = {t["name"]: t["installed"] for t in api_b.get("/automation-rules/templates").json()["data"]}
    assert theirs["email_failed_letter"] == installed["id"]


def _automation_templates_install(api: Api, api_b: Api) -> None:
    theirs = created(api_b.post("/automation-rules/templates", {"template": "autogiro_failed_swish"}))
    before_b = api_b.get("/automation-rules").json()
    # Installed in B does not count as installed in A.
    mine = created(api.post("/automation-rules/templates", {"template": "autogiro_failed_swish"}))
    assert mine["id"] != theirs["id"] and api_b.get("/automation-rules").json() == before_b


SUB_LINE = {"description": "Mobil Fri", "quantity": "1", "unit_price": 29900, "vat_rate": 25}


def _subscriptions_post(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    b_item = make_item(api_b, "B-ITEM")
    before_b = api_b.get("/subscriptions").json()
    a_customer = make_customer(api, "A-1")
    # B's customer or B's item on A's subscription: the same 404 as for ids that do not exist.
    assert_error(api.post("/subscriptions", {"customer": b_customer["id"], "lines": [SUB_LINE]}), 404, param="customer")
    assert_error(
        api.post("/subscriptions", {"customer": a_customer["id"], "lines": [{"item": b_item["id"]}]}),
        404,
        param="lines[0].item",
    )
    mine = created(api.post("/subscriptions", {"customer": a_customer["id"], "lines": [SUB_LINE]}))
    assert [s["id"] for s in api.get("/subscriptions").json()["data"]] == [mine["id"]]
    assert api_b.get("/subscriptions").json() == before_b


def _subscriptions_list(api: Api, api_b: Api) -> None:
    b_customer = make_customer(api_b, "B-1")
    b_ids = {created(api_b.post("/subscriptions", {"customer": b_customer["id"], "lines": [SUB_LINE]}))["id"]}
    a_customer = make_customer(api, "A-1")
    a_ids = {created(api.post("/subscriptions", {"customer": a_customer["id"], "lines": [SUB_LINE]}))["id"]}
    assert {s["id"] for s in api.get("/subscriptions").json()["data"]} == a_ids
    assert api.get("/subscriptions", params={"customer": b_customer["id"]}).json()["data"] == []
    assert {s["id"] for s in api_b.get("/subscriptions").json()["data"]} == b_ids


def _billing_runs_post(api: Api, api_b: Api) -> None:
    from kvitt.worker import Worker

    b_customer = make_customer(api_b, "B-1")
    body = {"customer": b_customer["id"], "lines": [SUB_LINE], "start_date": "2026-01-01"}
    b_sub = created(api_b.post("/subscriptions", body))
    # A's run on B's billing day bills nothing of B's.
    mine = api.post("/billing-runs", {"date": "2026-03-01"})
    assert mine.status_code == 202 and mine.json()["subscriptions_due"] == 0
    Worker(api.client.app.state.db).run_until_idle()  # type: ignore[attr-defined]
    assert api_b.get("/invoices").json()["data"] == [] and api.get("/invoices").json()["data"] == []
    assert api_b.get(f"/subscriptions/{b_sub['id']}").json()["next_period_start"] == "2026-01-01"
    assert api_b.post("/billing-runs", {"date": "2026-03-01"}).json()["subscriptions_due"] == 1


def _billing_runs_list(api: Api, api_b: Api) -> None:
    b_run = api_b.post("/billing-runs", {"date": "2026-01-01"}).json()
    a_run = api.post("/billing-runs", {"date": "2026-01-01"}).json()
    assert [r["id"] for r in api.get("/billing-runs").json()["data"]] == [a_run["id"]]
    assert [r["id"] for r in api_b.get("/billing-runs").json()["data"]] == [b_run["id"]]


def _make_test_tenant(api: Api) -> None:
    from kvitt.tenants.models import Tenant

    with api.client.app.state.db.transaction() as session:  # type: ignore[attr-defined]
        tenant = session.get(Tenant, api.tenant_id)
        assert tenant is not None
        tenant.is_test = True


def _test_clock_get(api: Api, api_b: Api) -> None:
    # A live tenant has no clock: a clear refusal, not the date of someone else's clock.
    assert_error(api.get("/test-clock"), 409, code="not_a_test_tenant")
    _make_test_tenant(api_b)
    _make_test_tenant(api)
    assert api_b.post("/test-clock/advance", {"start": "2026-01-01", "to": "2026-01-03"}).status_code == 200
    mine = api.get("/test-clock").json()
    assert mine["tenant"] == api.tenant_id and mine["running"] is False and mine["date"] != "2026-01-03"
    assert api_b.get("/test-clock").json()["date"] == "2026-01-03"


def _test_clock_advance(api: Api, api_b: Api) -> None:
    assert_error(api.post("/test-clock/advance", {"to": "2030-01-01"}), 409, code="not_a_test_tenant")
    _make_test_tenant(api_b)
    _make_test_tenant(api)
    assert api_b.post("/test-clock/advance", {"start": "2026-01-01", "to": "2026-01-02"}).status_code == 200
    b_customer = make_customer(api_b, "B-1")
    body = {"customer": b_customer["id"], "lines": [SUB_LINE], "start_date": "2026-01-05"}
    b_sub = created(api_b.post("/subscriptions", body))
    # A's clock passing B's subscription's start bills nothing of B's and moves only A's date.
    response = api.post("/test-clock/advance", {"start": "2026-01-01", "to": "2026-01-10"})
    assert response.status_code == 200, response.text
    assert response.json()["date"] == "2026-01-10"
    assert api_b.get("/test-clock").json()["date"] == "2026-01-02"
    assert api_b.get(f"/subscriptions/{b_sub['id']}").json()["next_period_start"] == "2026-01-05"
    assert api_b.get("/invoices").json()["data"] == []


OTHER_ROUTES: dict[tuple[str, str], Callable[[Api, Api], None]] = {
    ("GET", "/tenant"): _tenant_get,
    ("PATCH", "/tenant"): _tenant_patch,
    ("POST", "/api-keys"): _api_keys_post,
    ("GET", "/api-keys"): _api_keys_list,
    ("POST", "/customers"): _customers_post,
    ("GET", "/customers"): _customers_list,
    ("POST", "/items"): _items_post,
    ("GET", "/items"): _items_list,
    ("POST", "/invoices"): _invoices_post,
    ("GET", "/invoices"): _invoices_list,
    ("GET", "/ledger/sie"): _ledger_sie,
    ("POST", "/payment-files"): _payment_files_post,
    ("GET", "/payment-files"): _payment_files_list,
    ("POST", "/billing-files"): _billing_files_post,
    ("GET", "/billing-files"): _billing_files_list,
    ("POST", "/payments"): _payments_post,
    ("GET", "/payments"): _payments_list,
    ("GET", "/deviations"): _deviations_list,
    ("GET", "/reports/deviations"): _deviations_report,
    ("GET", "/reports/aging"): _reports_aging,
    ("GET", "/delivery/settings"): _delivery_settings_get,
    ("PATCH", "/delivery/settings"): _delivery_settings_patch,
    ("POST", "/delivery/bounces"): _delivery_bounces,
    ("POST", "/webhook-endpoints"): _webhook_endpoints_post,
    ("GET", "/webhook-endpoints"): _webhook_endpoints_list,
    ("GET", "/event-types"): _event_types,
    ("POST", "/automation-rules"): _automation_rules_post,
    ("GET", "/automation-rules"): _automation_rules_list,
    ("GET", "/automation-rules/templates"): _automation_templates_list,
    ("POST", "/automation-rules/templates"): _automation_templates_install,
    ("POST", "/subscriptions"): _subscriptions_post,
    ("GET", "/subscriptions"): _subscriptions_list,
    ("POST", "/billing-runs"): _billing_runs_post,
    ("GET", "/billing-runs"): _billing_runs_list,
    ("GET", "/test-clock"): _test_clock_get,
    ("POST", "/test-clock/advance"): _test_clock_advance,
}
OTHER_ROUTES.update(DUNNING_OTHER_ROUTES)
OTHER_ROUTES.update(MESSAGES_OTHER_ROUTES)
OTHER_ROUTES.update(AUTOGIRO_OTHER_ROUTES)
OTHER_ROUTES.update(REPORTS_OTHER_ROUTES)
OTHER_ROUTES.update(SEGMENTS_OTHER_ROUTES)


# --- the tests ---------------------------------------------------------------------------------


def test_every_api_route_has_an_isolation_case(app: Any) -> None:
    routes = route_keys(app)
    assert routes, "no routes found under /api/v1"
    covered = set(ID_ROUTES) | set(OTHER_ROUTES)
    not_covered = sorted(routes - covered)
    assert not not_covered, f"route not covered by a tenant-isolation case: {not_covered}"
    stale = sorted(covered - routes)
    assert not stale, f"isolation cases for routes that no longer exist: {stale}"
    for (method, path), _ in ID_ROUTES.items():
        assert "{" in path, (method, path)
    for method, path in OTHER_ROUTES:
        assert "{" not in path, f"{method} {path} takes an id: it belongs in ID_ROUTES"


def test_every_api_route_is_a_tenant_route(app: Any) -> None:
    """A route that is not a TenantRoute would skip authentication and the tenant scope."""
    plain = [f"{sorted(r.methods)} {r.path}" for r in api_routes(app) if not isinstance(r.route, TenantRoute)]
    assert not plain, f"routes outside TenantRoute: {plain}"


@pytest.mark.parametrize(("method", "path"), sorted(ID_ROUTES), ids=lambda v: str(v))
def test_a_foreign_id_is_not_found(api: Api, api_b: Api, method: str, path: str) -> None:
    make_b, body, b_status = ID_ROUTES[(method, path)]
    # A has objects of its own too, so that a route that ignores the tenant has something to find.
    a_customer = make_customer(api, "A-1")
    make_issued(api, a_customer["id"])
    make_item(api, "A-ITEM")
    foreign = make_b(api_b)
    before = foreign.snapshot()

    response = call(api, method, fill_path(path, foreign.id), body)
    error = assert_error(response, 404, code="resource_missing")
    assert error["type"] == "invalid_request_error"
    assert str(foreign.id) in error["message"]
    # Indistinguishable from an id that never existed: nothing tells A that B's object is there.
    missing = assert_error(call(api, method, fill_path(path, MISSING_ID), body), 404)
    assert {**missing, "message": missing["message"].replace(str(MISSING_ID), "ID")} == {
        **error,
        "message": error["message"].replace(str(foreign.id), "ID"),
    }
    assert foreign.snapshot() == before, "tenant B's object changed through tenant A's key"

    # The same call made by B works: the 404 above came from the tenant scope, not the setup.
    assert call(api_b, method, fill_path(path, foreign.id), body).status_code == b_status


@pytest.mark.parametrize(("method", "path"), sorted(OTHER_ROUTES), ids=lambda v: str(v))
def test_a_route_without_an_id_acts_for_the_caller_only(api: Api, api_b: Api, method: str, path: str) -> None:
    OTHER_ROUTES[(method, path)](api, api_b)


# --- authentication -----------------------------------------------------------------------------


def assert_unauthenticated(response: Any) -> None:
    error = assert_error(response, 401, code="invalid_api_key")
    assert error["type"] == "authentication_error"
    assert response.headers["www-authenticate"] == "Bearer"


def _requests(app: Any) -> list[tuple[str, str]]:
    return sorted((method, PREFIX + fill_path(path, 1)) for method, path in route_keys(app))


def _send(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body = {} if method in ("POST", "PATCH") else None
    return client.request(method, url, json=body, headers=headers)


def test_every_route_refuses_a_request_without_a_key(client: TestClient, app: Any, api: Api) -> None:
    for method, url in _requests(app):
        assert_unauthenticated(_send(client, method, url, {}))


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "Token {key}",
        "{key}",
        "Bearer{key}",
        "Bearer {key}x",
        "Bearer x{key}",
        "Bearer kvitt_not_a_real_key",
    ],
)
def test_every_route_refuses_a_malformed_or_unknown_key(client: TestClient, app: Any, api: Api, header: str) -> None:
    value = header.replace("{key}", api.key)
    for method, url in _requests(app):
        assert_unauthenticated(_send(client, method, url, {"Authorization": value}))


def test_every_route_refuses_a_revoked_key(client: TestClient, app: Any, api: Api, api_b: Api) -> None:
    key = created(api.post("/api-keys", {"name": "to revoke"}))
    revoked = Api(client, key["secret"], api.tenant_id)
    assert revoked.get("/tenant").status_code == 200
    assert api.delete(f"/api-keys/{key['id']}").json()["revoked_at"] is not None
    for method, url in _requests(app):
        assert_unauthenticated(_send(client, method, url, {"Authorization": f"Bearer {key['secret']}"}))
    # The other keys of A, and B's keys, still work.
    assert api.get("/tenant").status_code == 200 and api_b.get("/tenant").status_code == 200


def test_a_key_revoked_by_itself_stops_working_at_once(api: Api) -> None:
    own = next(k for k in api.get("/api-keys").json()["data"] if k["name"] == "default")
    assert api.delete(f"/api-keys/{own['id']}").status_code == 200
    assert_unauthenticated(api.get("/tenant"))


def test_unauthenticated_requests_change_nothing(client: TestClient, app: Any, api: Api) -> None:
    customer = make_customer(api, "A-1")
    draft = make_draft(api, customer["id"])
    before = (api.get("/customers").json(), api.get("/invoices").json(), api.get("/tenant").json())
    ids = {"customer_id": customer["id"], "invoice_id": draft["id"], "item_id": 1, "key_id": 1}
    for method, path in route_keys(app):
        if method == "GET":
            continue
        url = PREFIX + re.sub(r"\{([^}]+)\}", lambda m: str(ids.get(m.group(1), 1)), path)
        assert_unauthenticated(_send(client, method, url, {"Authorization": "Bearer wrong"}))
    assert (api.get("/customers").json(), api.get("/invoices").json(), api.get("/tenant").json()) == before
