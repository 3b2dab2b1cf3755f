"""Tenant-isolation cases for ``GET /api/v1/messages`` (tests/test_tenant_isolation.py takes them in)."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Api


def _conversation(api: Api, customer_no: str, text: str) -> int:
    customer = api.post("/customers", {"customer_no": customer_no, "name": "Astrid Lindqvist"})
    assert customer.status_code == 201, customer.text
    lines = [{"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer.json()["id"], "lines": lines})
    assert draft.status_code == 201, draft.text
    invoice_id = int(draft.json()["id"])
    assert api.post(f"/invoices/{invoice_id}/issue").status_code == 200
    assert api.post(f"/invoices/{invoice_id}/messages", {"text": text}).status_code == 201
    return invoice_id


def _messages(api: Api, api_b: Api) -> None:
    theirs = _conversation(api_b, "B-1", "Hej från B")
    mine = _conversation(api, "A-1", "Hej från A")
    a_list, b_list = api.get("/messages").json()["data"], api_b.get("/messages").json()["data"]
    assert [(m["invoice"], m["text"]) for m in a_list] == [(mine, "Hej från A")]
    assert [(m["invoice"], m["text"]) for m in b_list] == [(theirs, "Hej från B")]


MESSAGES_OTHER_ROUTES: dict[tuple[str, str], Callable[[Api, Api], None]] = {("GET", "/messages"): _messages}
