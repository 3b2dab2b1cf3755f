"""Tenant-isolation cases for autogiro's routes (tests/test_tenant_isolation.py takes them in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from kvitt.autogiro import files
from kvitt.formats import autogiro as ag
from kvitt.tenants.models import Tenant
from tests.conftest import Api

PN = "19121212-1212"  # a valid personal number (Skatteverket's test number)


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def _customer(api: Api, no: str) -> dict[str, Any]:
    return _created(
        api.post("/customers", {"customer_no": no, "name": "Bo Ek", "email": f"g{no}@example.se", "id_number": PN})
    )


def _mandate(api: Api, no: str) -> dict[str, Any]:
    customer = _customer(api, no)
    return _created(api.post("/autogiro/mandates", {"customer": customer["id"], "clearing": "5001", "account": "12"}))


class _Foreign:
    def __init__(self, object_id: int, snapshot: Callable[[], Any]) -> None:
        self.id = object_id
        self.snapshot = snapshot


def _b_mandate(api_b: Api) -> _Foreign:
    mandate = _mandate(api_b, "9001")
    return _Foreign(mandate["id"], lambda: api_b.get(f"/autogiro/mandates/{mandate['id']}").json())


def _active(api: Api, no: str) -> dict[str, Any]:
    """A mandate of the tenant's, sent to Bankgirot and accepted by its advice."""
    assert api.patch("/autogiro/settings", {"bgc_customer_number": "471117"}).status_code == 200
    mandate = _mandate(api, no)
    db = api.client.app.state.db  # type: ignore[attr-defined]
    day = date(2099, 9, 29)
    record = ag.MandateAdviceRecord("9912346", mandate["payer_number"], None, None, "04", "32", day)
    with db.transaction() as session:
        tenant = session.get(Tenant, api.tenant_id)
        files.export_orders(session, tenant, day=day, name=f"m{no}")
        advice = ag.write_mandate_advice(ag.MandateAdvice(day, "471117", "9912346", (record,)))
        files.import_file(session, tenant, advice, name=f"a{no}", today=day, actor="test")
    return dict(api.get(f"/autogiro/mandates/{mandate['id']}").json())


def _b_active_mandate(api_b: Api) -> _Foreign:
    mandate = _active(api_b, "9006")
    return _Foreign(mandate["id"], lambda: api_b.get(f"/autogiro/mandates/{mandate['id']}").json())


def _credit(api: Api, no: str) -> dict[str, Any]:
    """A pending credit: the customer's mandate is active and they hold 100 kr of credit."""
    mandate = _active(api, no)
    paid = api.post("/payments", {"amount": 10000, "customer": mandate["customer"], "reference": "förskott"})
    assert paid.status_code == 201, paid.text
    return _created(api.post("/autogiro/credits", {"customer": mandate["customer"], "amount": 4000}))


def _b_credit(api_b: Api) -> _Foreign:
    credit = _credit(api_b, "9007")
    return _Foreign(credit["id"], lambda: api_b.get(f"/autogiro/credits/{credit['id']}").json())


AUTOGIRO_ID_ROUTES: dict[tuple[str, str], tuple[Callable[[Api], Any], Any, int]] = {
    ("GET", "/autogiro/mandates/{mandate_id}"): (_b_mandate, None, 200),
    ("DELETE", "/autogiro/mandates/{mandate_id}"): (_b_mandate, None, 200),
    ("POST", "/autogiro/mandates/{mandate_id}/payer_number"): (_b_active_mandate, {"payer_number": "77"}, 200),
    ("GET", "/autogiro/credits/{credit_id}"): (_b_credit, None, 200),
    ("DELETE", "/autogiro/credits/{credit_id}"): (_b_credit, None, 200),
}


def _mandates_post(api: Api, api_b: Api) -> None:
    b_customer = _customer(api_b, "9002")
    response = api.post("/autogiro/mandates", {"customer": b_customer["id"], "clearing": "5001", "account": "12"})
    assert response.status_code == 404 and response.json()["error"]["param"] == "customer"
    assert api_b.get("/autogiro/mandates").json()["data"] == []
    # The same payer number in two tenants is no clash: unique per tenant.
    assert _mandate(api, "9002")["payer_number"] == "9002"


def _mandates_list(api: Api, api_b: Api) -> None:
    theirs = _mandate(api_b, "9004")
    mine = _mandate(api, "9004")
    assert [m["id"] for m in api.get("/autogiro/mandates").json()["data"]] == [mine["id"]]
    assert api.get("/autogiro/mandates", params={"customer": theirs["customer"]}).json()["data"] == []


def _settings_get(api: Api, api_b: Api) -> None:
    assert api_b.patch("/autogiro/settings", {"bgc_customer_number": "471117"}).status_code == 200
    assert api.get("/autogiro/settings").json()["bgc_customer_number"] is None


def _settings_patch(api: Api, api_b: Api) -> None:
    assert (
        api.patch("/autogiro/settings", {"bgc_customer_number": "123456", "banking_days_before": 2}).status_code == 200
    )
    assert api_b.get("/autogiro/settings").json()["bgc_customer_number"] is None
    assert api_b.get("/autogiro/settings").json()["banking_days_before"] == 1


def _debits_list(api: Api, api_b: Api) -> None:
    # B's debit: B's mandate accepted by Bankgirot and an invoice of B's due on a banking day.
    assert api_b.patch("/autogiro/settings", {"bgc_customer_number": "471117"}).status_code == 200
    mandate = _mandate(api_b, "9005")
    db, tenant_b = api_b.client.app.state.db, api_b.tenant_id  # type: ignore[attr-defined]
    day = date(2099, 9, 29)
    record = ag.MandateAdviceRecord("9912346", mandate["payer_number"], None, None, "04", "32", day)
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant_b)
        files.export_orders(session, tenant, day=day, name="m")
        advice = ag.write_mandate_advice(ag.MandateAdvice(day, "471117", "9912346", (record,)))
        files.import_file(session, tenant, advice, name="a", today=day, actor="test")
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 100, "vat_rate": 25}
    body = {"customer": mandate["customer"], "lines": [line], "due_date": "2099-09-30"}
    draft = _created(api_b.post("/invoices", body))
    assert api_b.post(f"/invoices/{draft['id']}/issue").status_code == 200
    with db.transaction() as session:
        files.export_orders(session, session.get(Tenant, tenant_b), day=day, name="p")
    assert len(api_b.get("/autogiro/debits").json()["data"]) == 1
    assert api.get("/autogiro/debits").json()["data"] == []
    assert api.get("/autogiro/debits", params={"invoice": draft["id"]}).json()["data"] == []


def _credits_post(api: Api, api_b: Api) -> None:
    theirs = _active(api_b, "9008")
    response = api.post("/autogiro/credits", {"customer": theirs["customer"], "amount": 100})
    assert response.status_code == 404 and response.json()["error"]["param"] == "customer"
    assert api_b.get("/autogiro/credits").json()["data"] == []


def _credits_list(api: Api, api_b: Api) -> None:
    theirs = _credit(api_b, "9009")
    assert api.get("/autogiro/credits").json()["data"] == []
    assert api.get("/autogiro/credits", params={"customer": theirs["customer"]}).json()["data"] == []
    assert [c["id"] for c in api_b.get("/autogiro/credits").json()["data"]] == [theirs["id"]]


AUTOGIRO_OTHER_ROUTES: dict[tuple[str, str], Callable[[Api, Api], None]] = {
    ("GET", "/autogiro/credits"): _credits_list,
    ("POST", "/autogiro/credits"): _credits_post,
    ("GET", "/autogiro/debits"): _debits_list,
    ("POST", "/autogiro/mandates"): _mandates_post,
    ("GET", "/autogiro/mandates"): _mandates_list,
    ("GET", "/autogiro/settings"): _settings_get,
    ("PATCH", "/autogiro/settings"): _settings_patch,
}
