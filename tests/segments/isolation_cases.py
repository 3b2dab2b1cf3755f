"""Tenant-isolation cases for segments' and engagement's routes (tests/test_tenant_isolation.py
takes them in): B's objects are 404 to A; lists and reports show each tenant its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Api


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


SEGMENTS_ID_ROUTES: dict[tuple[str, str], tuple[Callable[[Api], Any], Any, int]] = {
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


SEGMENTS_OTHER_ROUTES: dict[tuple[str, str], Callable[[Api, Api], None]] = {
    ("POST", "/segments"): _segments_post,
    ("GET", "/segments"): _segments_list,
    ("POST", "/segments/preview"): _segments_preview,
}
