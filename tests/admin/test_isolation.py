"""Every back-office route that names an object: tenant A's admin gets 404 for tenant B's object,
and B's object is unchanged (B's view through the API before and after). A new route with an id
fails here until it has its case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.admin.conftest import Staff, admin_routes, make_customer, make_issued, make_staff


def _customer(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    customer = make_customer(api_b, "B-1")
    return customer["id"], lambda: api_b.get(f"/customers/{customer['id']}").json()


def _paused_customer(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    customer = make_customer(api_b, "B-1")
    assert api_b.post("/dunning-pauses", {"customer": customer["id"], "reason": "B:s tvist"}).status_code == 201
    return customer["id"], lambda: api_b.get("/dunning-pauses").json()


def _customer_with_invoice(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    """B's customer; the form names B's invoice of that customer (``{invoice}`` below)."""
    customer = make_customer(api_b, "B-1")
    invoice = make_issued(api_b, customer["id"])

    def snapshot() -> Any:
        found = api_b.get(f"/invoices/{invoice['id']}").json()
        return found, api_b.get(f"/invoices/{invoice['id']}/deliveries").json(), api_b.get("/payment-extensions").json()

    snapshot.invoice = invoice["id"]  # type: ignore[attr-defined]
    return customer["id"], snapshot


def _invoice(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    invoice = make_issued(api_b, make_customer(api_b, "B-1")["id"])

    def snapshot() -> Any:
        found = api_b.get(f"/invoices/{invoice['id']}").json()
        return found, api_b.get(f"/invoices/{invoice['id']}/deliveries").json()

    return invoice["id"], snapshot


def _invoice_and_visits(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    """B's invoice, and what a look at it would count (visits, opened events)."""
    from sqlalchemy import func, select

    from kvitt.invoices.models import InvoiceEvent
    from kvitt.web.models import WebInvoiceVisit

    invoice = make_issued(api_b, make_customer(api_b, "B-1")["id"])

    def snapshot() -> Any:
        with db.read() as session:
            visits = session.scalar(select(func.count()).where(WebInvoiceVisit.invoice_id == invoice["id"]))
            events = session.scalar(select(func.count()).where(InvoiceEvent.invoice_id == invoice["id"]))
        return api_b.get(f"/invoices/{invoice['id']}").json(), visits, events

    return invoice["id"], snapshot


def _draft(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    customer = make_customer(api_b, "B-1")
    lines = [{"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]
    draft = api_b.post("/invoices", {"customer": customer["id"], "lines": lines}).json()
    return draft["id"], lambda: api_b.get(f"/invoices/{draft['id']}").json()


def _deviation(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    assert api_b.post("/payments", {"amount": 12345, "payer_name": "B"}).status_code == 201
    deviation = api_b.get("/deviations").json()["data"][0]
    return deviation["id"], lambda: api_b.get(f"/deviations/{deviation['id']}").json()


def _customer_with_contracts(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    """B's customer with a paused subscription and an autogiro mandate, named in the form."""
    customer = make_customer(api_b, "B-1", id_number="19121212-1212")
    line = {"description": "Mobil Fri", "quantity": "1", "unit_price": 29900, "vat_rate": 25}
    sub = api_b.post("/subscriptions", {"customer": customer["id"], "lines": [line]}).json()
    assert api_b.post(f"/subscriptions/{sub['id']}/pause", {}).status_code == 200
    held = api_b.post("/autogiro/mandates", {"customer": customer["id"], "clearing": "5001", "account": "12"}).json()

    def snapshot() -> Any:
        found = api_b.get(f"/customers/{customer['id']}").json()
        return (
            found,
            api_b.get(f"/subscriptions/{sub['id']}").json(),
            api_b.get(f"/autogiro/mandates/{held['id']}").json(),
        )

    snapshot.fields = {"subscription": str(sub["id"]), "mandate": str(held["id"])}  # type: ignore[attr-defined]
    return customer["id"], snapshot


def _staff_user(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    from sqlalchemy import select

    from kvitt.admin.models import StaffUser

    make_staff(db, tenant_b, "boss@fjallstrom.test", "admin")

    def snapshot() -> Any:
        with db.read() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.email == "boss@fjallstrom.test"))
            return user.id, user.role, user.active, user.password_hash, user.session_key

    return snapshot()[0], snapshot


def _staff_user_details(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    from sqlalchemy import select

    from kvitt.admin.models import StaffUser

    make_staff(db, tenant_b, "kassa@fjallstrom.test", "finance")

    def snapshot() -> Any:
        with db.read() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.tenant_id == tenant_b))
            return user.id, user.email, user.name

    return snapshot()[0], snapshot


def _api_key(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    key = api_b.get("/api-keys").json()["data"][0]
    return key["id"], lambda: api_b.get("/api-keys").json()


def _endpoint(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    endpoint = api_b.post("/webhook-endpoints", {"url": "https://b.example/hooks", "events": ["*"]}).json()
    return endpoint["id"], lambda: api_b.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()


def _endpoint_itself(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    endpoint = api_b.post("/webhook-endpoints", {"url": "https://b.example/hooks", "events": ["*"]}).json()
    return endpoint["id"], lambda: api_b.get(f"/webhook-endpoints/{endpoint['id']}").json()


def _pause(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    customer = make_customer(api_b, "B-1")
    pause = api_b.post("/dunning-pauses", {"customer": customer["id"], "reason": "B"}).json()
    return pause["id"], lambda: api_b.get("/dunning-pauses").json()


def _extension(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    from datetime import date, timedelta

    invoice = make_issued(api_b, make_customer(api_b, "B-1")["id"])
    until = (date.fromisoformat(invoice["due_date"]) + timedelta(days=30)).isoformat()
    extension = api_b.post("/payment-extensions", {"invoice": invoice["id"], "until": until}).json()
    assert extension["state"] == "pending", extension
    return extension["id"], lambda: api_b.get("/payment-extensions").json()


def _policy(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    policy = api_b.get("/dunning-policies").json()["data"][0]
    return policy["id"], lambda: api_b.get(f"/dunning-policies/{policy['id']}").json()


def _deletable_policy(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    policy = api_b.post("/dunning-policies", {"name": "B", "priority": 5, "steps": [{"days": 3}]}).json()
    return policy["id"], lambda: api_b.get(f"/dunning-policies/{policy['id']}").json()


def _rule(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    body = {"name": "B", "trigger": "invoice.issued", "actions": [{"type": "add_tag", "tag": "b"}]}
    rule = api_b.post("/automation-rules", body).json()
    return rule["id"], lambda: api_b.get(f"/automation-rules/{rule['id']}").json()


def _segment(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    body = {"name": "B", "conditions": [{"field": "attributes.plan", "op": "eq", "value": "B"}]}
    segment = api_b.post("/segments", body).json()
    return segment["id"], lambda: api_b.get(f"/segments/{segment['id']}").json()


def _placement(api_b: Any, db: Any, tenant_b: int) -> tuple[int, Callable[[], Any]]:
    placement = api_b.post("/placements", {"kind": "info", "title": "B"}).json()
    return placement["id"], lambda: api_b.get(f"/placements/{placement['id']}").json()


# (method, path) -> (how B makes the object, the form A sends)
CASES: dict[tuple[str, str], tuple[Callable[..., tuple[int, Callable[[], Any]]], dict[str, str]]] = {
    ("GET", "/admin/kunder/{customer_id}"): (_customer, {}),
    ("POST", "/admin/kunder/{customer_id}/kontakt"): (_customer, {"delivery_method": "letter"}),
    ("POST", "/admin/kunder/{customer_id}/paus"): (_customer, {"reason": "x"}),
    ("POST", "/admin/kunder/{customer_id}/uppgifter"): (_customer, {"name": "Någon", "city": "Kiruna"}),
    ("POST", "/admin/kunder/{customer_id}/attribut"): (_customer, {"attributes": "plan = Max"}),
    ("POST", "/admin/kunder/{customer_id}/ateruppta"): (_paused_customer, {}),
    ("POST", "/admin/kunder/{customer_id}/skicka"): (_customer_with_invoice, {"method": "email"}),
    ("POST", "/admin/kunder/{customer_id}/anstand"): (_customer_with_invoice, {"until": "2027-06-01"}),
    ("POST", "/admin/kunder/{customer_id}/kreditera"): (_customer_with_invoice, {"mode": "full"}),
    ("POST", "/admin/kunder/{customer_id}/nummer"): (_customer, {"id_number": "19121212-1212"}),
    ("POST", "/admin/kunder/{customer_id}/abonnemang/paus"): (_customer_with_contracts, {}),
    ("POST", "/admin/kunder/{customer_id}/abonnemang/ateruppta"): (_customer_with_contracts, {}),
    ("POST", "/admin/kunder/{customer_id}/abonnemang/avsluta"): (_customer_with_contracts, {}),
    ("POST", "/admin/kunder/{customer_id}/autogiro/avsluta"): (_customer_with_contracts, {}),
    ("GET", "/admin/fakturor/{invoice_id}"): (_invoice, {}),
    ("GET", "/admin/fakturor/{invoice_id}/forhandsvisning"): (_invoice_and_visits, {}),
    ("POST", "/admin/fakturor/{invoice_id}/utfarda"): (_draft, {}),
    ("POST", "/admin/fakturor/{invoice_id}/skicka"): (_invoice, {"method": "email"}),
    ("POST", "/admin/fakturor/{invoice_id}/kreditera"): (_invoice, {"mode": "full"}),
    ("POST", "/admin/fakturor/{invoice_id}/skriv-av"): (_invoice, {}),
    ("POST", "/admin/fakturor/{invoice_id}/betalning"): (_invoice, {"amount": "10"}),
    ("POST", "/admin/fakturor/{invoice_id}/meddelanden"): (_invoice, {"text": "Hej"}),
    ("POST", "/admin/fakturor/{invoice_id}/anstand"): (_invoice, {"until": "2027-02-01"}),
    ("POST", "/admin/avvikelser/{deviation_id}/losning"): (_deviation, {"action": "keep"}),
    ("POST", "/admin/anvandare/{user_id}"): (_staff_user, {"role": "read_only", "active": "0"}),
    ("POST", "/admin/anvandare/{user_id}/nytt-losenord"): (_staff_user, {}),
    ("POST", "/admin/anvandare/{user_id}/uppgifter"): (_staff_user_details, {"name": "A", "email": "a@x.test"}),
    ("POST", "/admin/api-nycklar/{key_id}/aterkalla"): (_api_key, {}),
    ("GET", "/admin/webhooks/{endpoint_id}"): (_endpoint, {}),
    ("POST", "/admin/webhooks/{endpoint_id}/leveranser/{delivery_id}/skicka-igen"): (_endpoint, {}),
    ("POST", "/admin/webhooks/{endpoint_id}"): (
        _endpoint_itself,
        {"url": "https://a.example/hooks", "events": "invoice.paid", "max_batch_size": "5"},
    ),
    ("POST", "/admin/webhooks/{endpoint_id}/ta-bort"): (_endpoint_itself, {}),
    ("POST", "/admin/paminnelser/pauser/{pause_id}/avsluta"): (_pause, {}),
    ("POST", "/admin/paminnelser/anstand/{extension_id}/beslut"): (_extension, {"decision": "approve"}),
    ("POST", "/admin/paminnelser/policyer/{policy_id}"): (_policy, {"days_0": "3"}),
    ("POST", "/admin/paminnelser/policyer/{policy_id}/ta-bort"): (_deletable_policy, {}),
    ("POST", "/admin/handelsekedjor/{rule_id}/pa"): (_rule, {"enabled": "0"}),
    ("GET", "/admin/handelsekedjor/{rule_id}"): (_rule, {}),
    ("POST", "/admin/handelsekedjor/{rule_id}"): (_rule, {"name": "A", "trigger": "invoice.paid", "actions": "send"}),
    ("POST", "/admin/handelsekedjor/{rule_id}/ta-bort"): (_rule, {}),
    ("GET", "/admin/engagemang/segment/{segment_id}"): (_segment, {}),
    ("POST", "/admin/engagemang/segment/{segment_id}"): (_segment, {"name": "A", "conditions": "age_years gte 1"}),
    ("POST", "/admin/engagemang/segment/{segment_id}/ta-bort"): (_segment, {}),
    ("GET", "/admin/engagemang/placering/{placement_id}"): (_placement, {}),
    ("POST", "/admin/engagemang/placering/{placement_id}"): (_placement, {"title": "A", "channels": "web"}),
    ("POST", "/admin/engagemang/placering/{placement_id}/ta-bort"): (_placement, {}),
}


def admin_routes_with_ids(app: Any) -> set[tuple[str, str]]:
    found = set()
    for path, methods, _ in admin_routes(app):
        if "_id}" in path:  # a route that names an object of the tenant
            found |= {(method, path) for method in methods}
    return found


def test_every_admin_route_with_an_id_has_a_case(app: Any) -> None:
    assert admin_routes_with_ids(app) == set(CASES)


@pytest.mark.parametrize(("method", "path"), sorted(CASES), ids=str)
def test_a_foreign_object_is_not_found_and_unchanged(
    admin: Staff, api_b: Any, db: Any, tenant_b: tuple[int, str], method: str, path: str
) -> None:
    make_b, form = CASES[(method, path)]
    foreign_id, snapshot = make_b(api_b, db, tenant_b[0])
    before = snapshot()
    url = path.split("{")[0] + str(foreign_id) + path.split("}", 1)[1]
    url = url.replace("{delivery_id}", str(foreign_id))
    if hasattr(snapshot, "invoice"):  # a customer route that names one of the customer's invoices
        form = {**form, "invoice": str(snapshot.invoice)}
    form = {**form, **getattr(snapshot, "fields", {})}  # the objects a customer route names in its form
    answer = admin.get(url) if method == "GET" else admin.post(url, form)
    assert answer.status_code == 404, (url, answer.status_code)
    assert snapshot() == before
