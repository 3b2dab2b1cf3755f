"""The collection-agency simulator's documented HTTP API, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kvitt.simulators import serve_in_thread
from kvitt.simulators.collection_agency import create_app

CASE = {
    "creditor_reference": "kvitt-1-1",
    "debtor": {"name": "Bo Ek", "type": "individual"},
    "invoice": {"number": "1001", "ocr": "100125", "due_date": "2026-01-31"},
    "principal": 50000,
    "charges": 24000,
    "fee": 18000,
    "fee_kind": "inkassokrav",
}


@pytest.fixture
def agency() -> Iterator[str]:
    with serve_in_thread(create_app({"key-a": "a", "key-b": "b"})) as server:
        yield server.url


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_a_case_from_creation_to_paid(agency: str) -> None:
    with _client(agency, "key-a") as a:
        created = a.post("/v1/cases", json=CASE)
        assert created.status_code == 201 and created.json()["outstanding"] == 74000
        case_id = created.json()["id"]
        again = a.post("/v1/cases", json=CASE)  # the same creditor reference: the same case
        assert again.status_code == 200 and again.json()["id"] == case_id
        assert a.post(f"/v1/cases/{case_id}/payments", json={"amount": 80000, "date": "2026-03-01"}).status_code == 422
        paid = a.post(f"/v1/cases/{case_id}/payments", json={"amount": 30000, "date": "2026-03-01"}).json()
        assert (paid["collected"], paid["outstanding"], paid["status"]) == (30000, 44000, "open")
        direct = {"amount": 4000, "date": "2026-03-02", "paid_to": "creditor"}
        assert a.post(f"/v1/cases/{case_id}/payments", json=direct).json()["paid_directly"] == 4000
        last = a.post(f"/v1/cases/{case_id}/payments", json={"amount": 40000, "date": "2026-03-03"}).json()
        assert (last["status"], last["closed_reason"]) == ("closed", "paid")
        events = a.get("/v1/events", params={"after": 0}).json()["data"]
        assert [(e["type"], e.get("amount"), e["seq"]) for e in events] == [
            ("payment", 30000, 1),
            ("payment", 40000, 2),
            ("closed", None, 3),
        ]
        assert a.get("/v1/events", params={"after": 2}).json()["data"][0]["reason"] == "paid"
        assert a.post(f"/v1/cases/{case_id}/close", json={"reason": "withdrawn"}).status_code == 409


def test_keys_and_creditors_are_kept_apart(agency: str) -> None:
    with _client(agency, "key-a") as a, _client(agency, "key-b") as b, _client(agency, "nope") as stranger:
        case_id = a.post("/v1/cases", json=CASE).json()["id"]
        assert stranger.get(f"/v1/cases/{case_id}").status_code == 401
        assert b.get(f"/v1/cases/{case_id}").status_code == 404
        assert b.post(f"/v1/cases/{case_id}/close", json={"reason": "withdrawn"}).status_code == 404
        assert a.post(f"/v1/cases/{case_id}/close", json={"reason": "uncollectable"}).json()["status"] == "closed"
        assert b.get("/v1/events").json()["data"] == []
        assert [e["reason"] for e in a.get("/v1/events").json()["data"]] == ["uncollectable"]
