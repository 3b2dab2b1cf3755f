"""Tenant-isolation cases for segments' and engagement's routes (tests/test_tenant_isolation.py
takes them in): B's objects are 404 to A; lists and reports show each tenant its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from tests.conftest import Api

# the report of the days around today (the rows carry the real time of the request)
PERIOD = {
    "from": (date.today() - timedelta(days=30)).isoformat(),
    "to": (date.today() + timedelta(days=30)).isoformat(),
}


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


class _Foreign:
    def __init__(self, object_id: int, snapshot: Callable[[], Any]) -> None:
        self.id = object_id
        self.snapshot = snapshot


def _b_segment(api_b: Api) -> _Foreign:
    _created(api_b.post("/customers", {"customer_no": "BS-1", "name": "Bo", "attributes": {"plan": "Medium"}}))
    body = {"name": "B-medium", "conditions": [{"field": "attributes.plan", "op": "eq", "value": "Medium"}]}
    segment = _created(api_b.post("/segments", body))
    return _Foreign(segment["id"], lambda: api_b.get(f"/segments/{segment['id']}").json())


def _b_placement(api_b: Api) -> _Foreign:
    body = {"kind": "offer", "title": "B-erbjudande", "url": "https://b.example/erbjudande"}
    placement = _created(api_b.post("/placements", body))
    return _Foreign(placement["id"], lambda: api_b.get(f"/placements/{placement['id']}").json())


SEGMENTS_ID_ROUTES: dict[tuple[str, str], tuple[Callable[[Api], Any], Any, int]] = {
    ("GET", "/placements/{placement_id}"): (_b_placement, None, 200),
    ("PATCH", "/placements/{placement_id}"): (_b_placement, {"title": "Mallory"}, 200),
    ("DELETE", "/placements/{placement_id}"): (_b_placement, None, 200),
    ("GET", "/segments/{segment_id}"): (_b_segment, None, 200),
    ("PATCH", "/segments/{segment_id}"): (_b_segment, {"name": "Mallory"}, 200),
    ("DELETE", "/segments/{segment_id}"): (_b_segment, None, 200),
    ("GET", "/segments/{segment_id}/customers"): (_b_segment, None, 200),
}


def _segments_post(api: Api, api_b: Api) -> None:
    _created(api_b.post("/customers", {"customer_no": "B-1", "name": "Bo", "attributes": {"plan": "Medium"}}))
    body = {"name": "Medium", "conditions": [{"field": "attributes.plan", "op": "eq", "value": "Medium"}]}
    mine = _created(api.post("/segments", body))
    assert mine["customer_count"] == 0  # B's customer is not A's
    assert api_b.get("/segments").json()["data"] == []


def _segments_list(api: Api, api_b: Api) -> None:
    theirs = _created(api_b.post("/segments", {"name": "B", "conditions": []}))
    assert theirs["id"] not in [s["id"] for s in api.get("/segments").json()["data"]]


def _segments_preview(api: Api, api_b: Api) -> None:
    _created(api_b.post("/customers", {"customer_no": "B-2", "name": "Bo", "attributes": {"plan": "Medium"}}))
    body = {"conditions": [{"field": "attributes.plan", "op": "eq", "value": "Medium"}]}
    assert api.post("/segments/preview", body).json()["count"] == 0
    assert api_b.post("/segments/preview", body).json()["count"] == 1


def _placements_post(api: Api, api_b: Api) -> None:
    _created(api.post("/placements", {"kind": "info", "title": "A-info"}))
    assert api_b.get("/placements").json()["data"] == []


def _placements_list(api: Api, api_b: Api) -> None:
    theirs = _created(api_b.post("/placements", {"kind": "info", "title": "B-info"}))
    assert theirs["id"] not in [p["id"] for p in api.get("/placements").json()["data"]]


def _b_engagement(api_b: Api) -> int:
    """B shows an offer on one of its web invoices and a click goes through: B's report has it."""
    placement = _created(api_b.post("/placements", {"kind": "offer", "title": "B", "url": "https://b.example/"}))
    customer = _created(api_b.post("/customers", {"customer_no": "BE-1", "name": "Bo", "email": "bo@b.example"}))
    line = {"description": "Abonnemang", "quantity": "1", "unit_price": 20000, "vat_rate": 25}
    draft = _created(api_b.post("/invoices", {"customer": customer["id"], "lines": [line]}))
    invoice = api_b.post(f"/invoices/{draft['id']}/issue").json()
    token = invoice["url"].rsplit("/", 1)[1]
    assert api_b.client.get(f"/i/{token}").status_code == 200
    assert api_b.client.get(f"/e/{token}.{placement['id']}", follow_redirects=False).status_code == 302
    return int(placement["id"])


def _engagement_report(api: Api, api_b: Api) -> None:
    placement = _b_engagement(api_b)
    period = PERIOD
    assert api.get("/reports/engagement", params=period).json()["data"] == []
    theirs = api_b.get("/reports/engagement", params=period).json()["data"]
    assert [(r["placement"], r["impressions"], r["clicks"]) for r in theirs] == [(placement, 1, 1)]


def _engagement_report_csv(api: Api, api_b: Api) -> None:
    _b_engagement(api_b)
    period = PERIOD
    assert len(api.get("/reports/engagement.csv", params=period).text.splitlines()) == 1  # the header only
    assert len(api_b.get("/reports/engagement.csv", params=period).text.splitlines()) == 2


SEGMENTS_OTHER_ROUTES: dict[tuple[str, str], Callable[[Api, Api], None]] = {
    ("POST", "/placements"): _placements_post,
    ("GET", "/placements"): _placements_list,
    ("GET", "/reports/engagement"): _engagement_report,
    ("GET", "/reports/engagement.csv"): _engagement_report_csv,
    ("POST", "/segments"): _segments_post,
    ("GET", "/segments"): _segments_list,
    ("POST", "/segments/preview"): _segments_preview,
}
