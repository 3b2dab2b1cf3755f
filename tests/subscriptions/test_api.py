"""Subscriptions through the API: create, read, list, change from a date, pause, resume, cancel."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

MOBIL = {"description": "Mobil Fri", "quantity": "1", "unit_price": 29_900, "vat_rate": 25}


def customer(api: Api, number: str = "1001") -> int:
    response = api.post("/customers", {"customer_no": number, "name": "Astrid Lindqvist", "email": "a@example.se"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def subscribe(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"customer": customer(api, fields.pop("customer_no", "1001")), "lines": [MOBIL], **fields}
    response = api.post("/subscriptions", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_read_list(api: Api) -> None:
    item = api.post("/items", {"article_no": "BB-250", "title": "Bredband 250", "unit_price": 39_900, "vat_rate": 25})
    sub = subscribe(
        api,
        start_date="2026-01-15",
        anchor_day=1,
        binding_months=12,
        lines=[MOBIL, {"item": item.json()["id"], "quantity": "2"}],
        metadata={"contract": "A-77"},
    )
    assert sub["object"] == "subscription"
    assert sub["interval"] == "month" and sub["anchor_date"] == "2026-01-01"
    assert sub["binding_until"] == "2027-01-15"
    assert sub["next_period_start"] == "2026-01-15"
    assert [(x["description"], x["quantity"], x["unit_price"]) for x in sub["lines"]] == [
        ("Mobil Fri", "1", 29_900),
        ("Bredband 250", "2", 39_900),
    ]
    assert api.get(f"/subscriptions/{sub['id']}").json() == sub
    listed = api.get("/subscriptions").json()
    assert listed["object"] == "list" and [s["id"] for s in listed["data"]] == [sub["id"]]
    assert api.get("/subscriptions", params={"customer": sub["customer"] + 1}).json()["data"] == []


def test_bad_input_names_the_field(api: Api) -> None:
    cid = customer(api)
    cases = [
        ({"customer": cid, "lines": []}, "lines"),
        ({"customer": cid, "lines": [{"description": "x"}]}, "lines[0]"),
        ({"customer": cid, "lines": [MOBIL], "interval": "week"}, "interval"),
        ({"customer": cid, "lines": [MOBIL], "anchor_day": 32}, "anchor_day"),
        ({"customer": cid, "lines": [{**MOBIL, "unit_price": 199.0}]}, "lines[0].unit_price"),
        ({"customer": cid, "lines": [{**MOBIL, "vat_rate": 24}]}, "lines[0].vat_rate"),
    ]
    for body, param in cases:
        response = api.post("/subscriptions", body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["param"] == param
    response = api.post("/subscriptions", {"customer": cid, "lines": [{"item": 424242}]})
    assert response.status_code == 404 and response.json()["error"]["param"] == "lines[0].item"
    response = api.post(
        "/subscriptions",
        {"customer": cid, "lines": [MOBIL], "start_date": "2026-01-01", "end_date": "2026-03-01", "binding_months": 12},
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "binding_period"


def test_price_change_pause_resume_cancel(api: Api) -> None:
    sub = subscribe(api, start_date="2026-01-01")
    sid = sub["id"]
    changed = api.patch(
        f"/subscriptions/{sid}",
        {"lines": [{**MOBIL, "unit_price": 34_900}], "effective_date": "2026-02-10"},
    )
    assert changed.status_code == 200, changed.text
    versions = [(x["unit_price"], x["valid_from"], x["valid_to"]) for x in changed.json()["lines"]]
    assert versions == [(29_900, "2026-01-01", "2026-02-10"), (34_900, "2026-02-10", None)]

    paused = api.post(f"/subscriptions/{sid}/pause", {"start": "2026-03-05"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["pauses"] == [{"start": "2026-03-05", "end": None}]
    overlap = api.post(f"/subscriptions/{sid}/pause", {"start": "2026-04-01"})
    assert overlap.status_code == 409 and overlap.json()["error"]["code"] == "pause_overlaps"
    resumed = api.post(f"/subscriptions/{sid}/resume", {"on": "2026-04-20"})
    assert resumed.json()["pauses"] == [{"start": "2026-03-05", "end": "2026-04-20"}]
    again = api.post(f"/subscriptions/{sid}/resume", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_paused"

    canceled = api.post(f"/subscriptions/{sid}/cancel", {"end_date": "2026-06-17"})
    assert canceled.status_code == 200
    assert canceled.json()["end_date"] == "2026-06-17" and canceled.json()["canceled_at"]
    twice = api.post(f"/subscriptions/{sid}/cancel", {})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "canceled"


def test_the_binding_period_holds_a_cancellation(api: Api) -> None:
    sub = subscribe(api, start_date="2026-01-01", binding_months=24)
    early = api.post(f"/subscriptions/{sub['id']}/cancel", {"end_date": "2026-06-01"})
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "binding_period" and "2028-01-01" in early.json()["error"]["message"]
    default = api.post(f"/subscriptions/{sub['id']}/cancel", {})
    assert default.json()["end_date"] == "2028-01-01"


def test_changes_inside_a_billed_period_are_refused(api: Api, client: Any) -> None:
    from kvitt.worker import Worker

    sub = subscribe(api, start_date="2026-01-01")
    run = api.post("/billing-runs", {"date": "2026-01-01"})
    assert run.status_code == 202
    Worker(client.app.state.db).run_until_idle()
    assert api.get(f"/subscriptions/{sub['id']}").json()["next_period_start"] == "2026-02-01"
    for path, body, param in [
        ("", {"lines": [MOBIL], "effective_date": "2026-01-20"}, "effective_date"),
        ("/pause", {"start": "2026-01-20"}, "start"),
        ("/cancel", {"end_date": "2026-01-20"}, "end_date"),
        ("/period-info", {"period_start": "2026-01-01", "blocks": [{"title": "Data", "text": "3 GB"}]}, "period_start"),
    ]:
        method = api.patch if not path else api.post
        response = method(f"/subscriptions/{sub['id']}{path}", body)
        assert response.status_code == 409, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "period_already_billed" and error["param"] == param
        assert "2026-02-01" in error["message"]


def test_period_info_goes_on_that_periods_invoice(api: Api, client: Any) -> None:
    from kvitt.worker import Worker

    sub = subscribe(api, start_date="2026-01-01", binding_months=12)
    wrong = api.post(
        f"/subscriptions/{sub['id']}/period-info",
        {"period_start": "2026-02-03", "blocks": [{"title": "x", "text": "y"}]},
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["param"] == "period_start"
    blocks = [{"title": "Förbrukning", "text": "Data: 7,2 GB av 10 GB"}]
    info = api.post(f"/subscriptions/{sub['id']}/period-info", {"period_start": "2026-02-01", "blocks": blocks})
    assert info.status_code == 200, info.text
    api.post("/billing-runs", {"date": "2026-02-01"})
    Worker(client.app.state.db).run_until_idle()
    invoices = api.get("/invoices", params={"customer": sub["customer"], "limit": 10}).json()["data"]
    by_period = {inv["metadata"]["period_start"]: inv for inv in invoices}
    assert set(by_period) == {"2026-01-01", "2026-02-01"}
    assert by_period["2026-02-01"]["info"][0] == blocks[0]
    assert by_period["2026-01-01"]["info"] == [
        {"title": "Bindningstid", "text": "Avtalet gäller till och med 2026-12-31"}
    ]
    assert by_period["2026-02-01"]["metadata"] == {
        "subscription": sub["id"],
        "period_start": "2026-02-01",
        "period_end": "2026-02-28",
    }
