"""Tenant-isolation cases for dunning's routes (tests/test_tenant_isolation.py takes them in).

Each ID route: tenant B makes the object through the API (so that B's call succeeds), A's call
must answer 404. Each route without an id: A and B each act, and each sees only its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Api

PAST_DUE = {"invoice_date": "2026-01-01", "due_date": "2026-01-31"}
RUN_DAY = "2026-03-15"


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def _customer(api: Api, no: str, **fields: Any) -> dict[str, Any]:
    return _created(
        api.post("/customers", {"customer_no": no, "name": "Bo Ek", "email": f"d{no}@example.se", **fields})
    )


def _overdue_invoice(api: Api, no: str, **customer_fields: Any) -> dict[str, Any]:
    customer = _customer(api, no, **customer_fields)
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 20000, "vat_rate": 25}
    draft = _created(api.post("/invoices", {"customer": customer["id"], "lines": [line], **PAST_DUE}))
    issued = api.post(f"/invoices/{draft['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def _open_invoice(api: Api, no: str) -> dict[str, Any]:
    customer = _customer(api, no)
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 20000, "vat_rate": 25}
    draft = _created(api.post("/invoices", {"customer": customer["id"], "lines": [line], "due_date": "2099-01-31"}))
    return dict(api.post(f"/invoices/{draft['id']}/issue").json())


def _run(api: Api) -> dict[str, Any]:
    response = api.post("/dunning/run", {"date": RUN_DAY})
    assert response.status_code == 200, response.text
    return dict(response.json())


class _Foreign:
    def __init__(self, object_id: int, snapshot: Callable[[], Any]) -> None:
        self.id = object_id
        self.snapshot = snapshot


def _b_policy(api_b: Api) -> _Foreign:
    body = {"name": "B-policy", "priority": 5, "steps": [{"days": 3, "after": "due"}]}
    policy = _created(api_b.post("/dunning-policies", body))
    return _Foreign(policy["id"], lambda: api_b.get("/dunning-policies", params={"limit": 100}).json())


def _b_reminder(api_b: Api) -> _Foreign:
    invoice = _overdue_invoice(api_b, "BR-1")
    _run(api_b)
    (reminder,) = api_b.get("/reminders", params={"invoice": invoice["id"]}).json()["data"]
    return _Foreign(reminder["id"], lambda: api_b.get(f"/reminders/{reminder['id']}").json())


def _b_pause(api_b: Api) -> _Foreign:
    invoice = _overdue_invoice(api_b, "BP-1")
    pause = _created(api_b.post("/dunning-pauses", {"invoice": invoice["id"], "reason": "tvist"}))
    return _Foreign(pause["id"], lambda: api_b.get("/dunning-pauses").json())


def _b_pending_extension(api_b: Api) -> _Foreign:
    assert api_b.patch("/dunning-settings", {"extension_auto_days": 0}).status_code == 200
    invoice = _open_invoice(api_b, "BE-1")
    extension = _created(api_b.post("/payment-extensions", {"invoice": invoice["id"], "until": "2099-02-10"}))
    assert extension["state"] == "pending"
    return _Foreign(extension["id"], lambda: api_b.get("/payment-extensions").json())


def _b_plan(api_b: Api) -> _Foreign:
    invoice = _open_invoice(api_b, "BI-1")
    body = {"invoice": invoice["id"], "parts": 3, "first_due_date": "2099-02-28"}
    plan = _created(api_b.post("/instalment-plans", body))
    return _Foreign(plan["id"], lambda: api_b.get(f"/instalment-plans/{plan['id']}").json())


def _b_case(api_b: Api) -> _Foreign:
    steps = [{"days": 1, "after": "due", "action": "collection"}]
    _created(api_b.post("/dunning-policies", {"name": "Inkasso", "priority": 1, "steps": steps}))
    _overdue_invoice(api_b, "BC-1")
    assert _run(api_b)["collections"] == 1
    (case,) = api_b.get("/collection-cases").json()["data"]
    return _Foreign(case["id"], lambda: api_b.get(f"/collection-cases/{case['id']}").json())


DUNNING_ID_ROUTES: dict[tuple[str, str], tuple[Callable[[Api], Any], Any, int]] = {
    ("GET", "/dunning-policies/{policy_id}"): (_b_policy, None, 200),
    ("PATCH", "/dunning-policies/{policy_id}"): (_b_policy, {"priority": 7}, 200),
    ("DELETE", "/dunning-policies/{policy_id}"): (_b_policy, None, 200),
    ("GET", "/reminders/{reminder_id}"): (_b_reminder, None, 200),
    ("POST", "/dunning-pauses/{pause_id}/end"): (_b_pause, None, 200),
    ("POST", "/payment-extensions/{extension_id}/approve"): (_b_pending_extension, None, 200),
    ("POST", "/payment-extensions/{extension_id}/reject"): (_b_pending_extension, None, 200),
    ("GET", "/instalment-plans/{plan_id}"): (_b_plan, None, 200),
    ("GET", "/collection-cases/{case_id}"): (_b_case, None, 200),
}


# --- routes without an id ------------------------------------------------------------------------


def _policies_post(api: Api, api_b: Api) -> None:
    before = api_b.get("/dunning-policies").json()
    mine = _created(api.post("/dunning-policies", {"name": "Mild", "steps": [{"days": 20, "after": "due"}]}))
    assert api_b.get("/dunning-policies").json() == before
    assert mine["id"] in [p["id"] for p in api.get("/dunning-policies").json()["data"]]


def _policies_list(api: Api, api_b: Api) -> None:
    theirs = _created(api_b.post("/dunning-policies", {"name": "B", "steps": [{"days": 1, "after": "due"}]}))
    mine = {p["id"] for p in api.get("/dunning-policies").json()["data"]}
    assert theirs["id"] not in mine and len(mine) == 1  # A's own default policy only


def _reminders_list(api: Api, api_b: Api) -> None:
    b_invoice = _overdue_invoice(api_b, "B-R")
    _run(api_b)
    a_invoice = _overdue_invoice(api, "A-R")
    assert _run(api)["reminders"] == 1  # A's tick reminds A's invoice only
    assert [r["invoice"] for r in api.get("/reminders").json()["data"]] == [a_invoice["id"]]
    assert api.get("/reminders", params={"invoice": b_invoice["id"]}).json()["data"] == []
    assert [r["invoice"] for r in api_b.get("/reminders").json()["data"]] == [b_invoice["id"]]


def _pauses_post(api: Api, api_b: Api) -> None:
    b_invoice = _overdue_invoice(api_b, "B-P")
    response = api.post("/dunning-pauses", {"invoice": b_invoice["id"], "reason": "x"})
    assert response.status_code == 404 and response.json()["error"]["param"] == "invoice"
    b_customer = b_invoice["customer"]
    assert api.post("/dunning-pauses", {"customer": b_customer, "reason": "x"}).status_code == 404
    assert api_b.get("/dunning-pauses").json()["data"] == []
    assert _run(api_b)["reminders"] == 1  # B's dunning was not paused by A


def _pauses_list(api: Api, api_b: Api) -> None:
    b_invoice = _overdue_invoice(api_b, "B-P")
    _created(api_b.post("/dunning-pauses", {"invoice": b_invoice["id"], "reason": "B"}))
    assert api.get("/dunning-pauses").json()["data"] == []
    assert api.get("/dunning-pauses", params={"invoice": b_invoice["id"]}).json()["data"] == []


def _extensions_post(api: Api, api_b: Api) -> None:
    b_invoice = _open_invoice(api_b, "B-E")
    response = api.post("/payment-extensions", {"invoice": b_invoice["id"], "until": "2099-02-05"})
    assert response.status_code == 404
    assert api_b.get("/payment-extensions").json()["data"] == []


def _extensions_list(api: Api, api_b: Api) -> None:
    b_invoice = _open_invoice(api_b, "B-E")
    _created(api_b.post("/payment-extensions", {"invoice": b_invoice["id"], "until": "2099-02-05"}))
    assert api.get("/payment-extensions").json()["data"] == []
    assert len(api_b.get("/payment-extensions").json()["data"]) == 1


def _plans_post(api: Api, api_b: Api) -> None:
    b_invoice = _open_invoice(api_b, "B-I")
    body = {"invoice": b_invoice["id"], "parts": 2, "first_due_date": "2099-02-28"}
    assert api.post("/instalment-plans", body).status_code == 404
    assert api_b.get("/instalment-plans").json()["data"] == []


def _plans_list(api: Api, api_b: Api) -> None:
    b_invoice = _open_invoice(api_b, "B-I")
    _created(api_b.post("/instalment-plans", {"invoice": b_invoice["id"], "parts": 2, "first_due_date": "2099-02-28"}))
    assert api.get("/instalment-plans").json()["data"] == []


def _cases_list(api: Api, api_b: Api) -> None:
    _b_case(api_b)
    assert api.get("/collection-cases").json()["data"] == []
    assert len(api_b.get("/collection-cases").json()["data"]) == 1


def _cases_export(api: Api, api_b: Api) -> None:
    _b_case(api_b)
    mine, theirs = api.get("/collection-cases/export"), api_b.get("/collection-cases/export")
    assert mine.status_code == theirs.status_code == 200
    assert mine.text.count("\r\n") == 1 and theirs.text.count("\r\n") == 2  # header only / header + B's case


def _settings_get(api: Api, api_b: Api) -> None:
    assert api_b.patch("/dunning-settings", {"extension_auto_days": 3}).status_code == 200
    assert api.get("/dunning-settings").json()["extension_auto_days"] == 14
    assert api_b.get("/dunning-settings").json()["extension_auto_days"] == 3


def _settings_patch(api: Api, api_b: Api) -> None:
    before = api_b.get("/dunning-settings").json()
    response = api.patch("/dunning-settings", {"agency_url": "http://127.0.0.1:9/a", "agency_api_key": "k"})
    assert response.status_code == 200 and response.json()["agency_api_key_set"] is True
    assert api_b.get("/dunning-settings").json() == before


def _rates_list(api: Api, api_b: Api) -> None:
    # Riksbanken's rates are the operator's, the same for every tenant, and read-only here.
    mine, theirs = api.get("/reference-rates"), api_b.get("/reference-rates")
    assert mine.status_code == theirs.status_code == 200 and mine.json() == theirs.json()


def _run_post(api: Api, api_b: Api) -> None:
    b_invoice = _overdue_invoice(api_b, "B-RUN")
    assert _run(api)["reminders"] == 0  # A's tick does not touch B's overdue invoice
    assert api_b.get("/reminders").json()["data"] == []
    assert api_b.get(f"/invoices/{b_invoice['id']}/events").status_code == 200
    assert _run(api_b)["reminders"] == 1


DUNNING_OTHER_ROUTES: dict[tuple[str, str], Callable[[Api, Api], None]] = {
    ("POST", "/dunning-policies"): _policies_post,
    ("GET", "/dunning-policies"): _policies_list,
    ("GET", "/reminders"): _reminders_list,
    ("POST", "/dunning-pauses"): _pauses_post,
    ("GET", "/dunning-pauses"): _pauses_list,
    ("POST", "/payment-extensions"): _extensions_post,
    ("GET", "/payment-extensions"): _extensions_list,
    ("POST", "/instalment-plans"): _plans_post,
    ("GET", "/instalment-plans"): _plans_list,
    ("GET", "/collection-cases"): _cases_list,
    ("GET", "/collection-cases/export"): _cases_export,
    ("GET", "/dunning-settings"): _settings_get,
    ("PATCH", "/dunning-settings"): _settings_patch,
    ("GET", "/reference-rates"): _rates_list,
    ("POST", "/dunning/run"): _run_post,
}
