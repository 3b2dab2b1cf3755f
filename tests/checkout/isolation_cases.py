"""Tenant-isolation cases for checkout's routes (tests/test_tenant_isolation.py takes them in).

Tenant B makes the object through the API; A's call with B's id must answer 404, B's own call
the status below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Api


class _Foreign:
    def __init__(self, object_id: int, snapshot: Callable[[], Any]) -> None:
        self.id = object_id
        self.snapshot = snapshot


def _issued(api_b: Api) -> dict[str, Any]:
    assert api_b.patch("/tenant", {"swish_number": "1231181189"}).status_code == 200
    customer = api_b.post("/customers", {"customer_no": "BS-1", "name": "Bo Ek", "email": "bs1@example.se"}).json()
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 20000, "vat_rate": 25}
    draft = api_b.post("/invoices", {"customer": customer["id"], "lines": [line]}).json()
    issued = api_b.post(f"/invoices/{draft['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def _b_invoice(api_b: Api) -> _Foreign:
    invoice = _issued(api_b)
    return _Foreign(invoice["id"], lambda: api_b.get(f"/invoices/{invoice['id']}/payment-requests").json())


def _b_request(api_b: Api) -> _Foreign:
    invoice = _issued(api_b)
    made = api_b.post(f"/invoices/{invoice['id']}/payment-requests", {"method": "swish"})
    assert made.status_code == 201, made.text
    request_id = made.json()["id"]
    return _Foreign(request_id, lambda: api_b.get(f"/payment-requests/{request_id}").json())


CHECKOUT_ID_ROUTES: dict[tuple[str, str], tuple[Callable[[Api], Any], Any, int]] = {
    ("POST", "/invoices/{invoice_id}/payment-requests"): (_b_invoice, {"method": "swish"}, 201),
    ("GET", "/invoices/{invoice_id}/payment-requests"): (_b_invoice, None, 200),
    ("GET", "/payment-requests/{request_id}"): (_b_request, None, 200),
    # B's own call finds the request and refuses it as not paid (409), not as missing (404).
    ("POST", "/payment-requests/{request_id}/refunds"): (_b_request, {}, 409),
}
