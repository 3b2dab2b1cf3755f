"""The lean request path (issue 20) keeps its guarantees: a revoked key is refused within the
documented bound, reads run beside a writer, one Idempotency-Key makes one invoice under 20
concurrent requests, the web invoice answers 304 to a reload of an unchanged page."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from kvitt.core.db import Database, utcnow
from kvitt.tenants import keys
from kvitt.tenants.models import ApiKey
from tests.conftest import ENGINE, Api

LINE = {"description": "Mobilabonnemang", "quantity": "1", "unit_price": 31600, "vat_rate": 25}


@pytest.fixture(autouse=True)
def empty_key_cache() -> None:
    keys.clear()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(keys, "monotonic", moved)
    return moved


def second_key(api: Api) -> tuple[int, str]:
    created = api.post("/api-keys", {"name": "integration"}).json()
    return int(created["id"]), str(created["secret"])


def test_a_key_revoked_through_the_api_is_refused_at_once(api: Api, client: TestClient, clock: Clock) -> None:
    key_id, secret = second_key(api)
    other = Api(client, secret, api.tenant_id)
    assert other.get("/customers").status_code == 200  # now in the cache
    assert api.delete(f"/api-keys/{key_id}").status_code == 200
    response = other.get("/customers")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_key_revoked_by_another_process_is_refused_within_the_bound(
    api: Api, client: TestClient, db: Database, clock: Clock
) -> None:
    key_id, secret = second_key(api)
    other = Api(client, secret, api.tenant_id)
    assert other.get("/customers").status_code == 200
    # Another process revokes it: this process's cache is not told.
    with db.transaction() as session:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
    clock.now += keys.MAX_AGE_SECONDS - 0.5
    assert other.get("/customers").status_code == 200  # within the bound the cached entry may serve
    clock.now += 0.5
    assert other.get("/customers").status_code == 401  # at the bound it is asked again, and refused
    assert other.post("/customers", {"customer_no": "1", "name": "Bo Ek"}).status_code == 401


def test_a_wrong_key_is_never_cached(api: Api, client: TestClient, clock: Clock) -> None:
    wrong = Api(client, "kv_live_" + "x" * 43, api.tenant_id)
    assert wrong.get("/customers").status_code == 401
    assert keys.get("anything") is None
    assert wrong.get("/customers").status_code == 401


def test_settings_changed_are_seen_by_the_next_request(api: Api, clock: Clock) -> None:
    assert api.get("/tenant").json()["payment_terms_days"] == 30
    assert api.patch("/tenant", {"payment_terms_days": 10}).status_code == 200
    assert api.get("/tenant").json()["payment_terms_days"] == 10


def test_twenty_concurrent_posts_with_one_key_create_one_invoice(api: Api) -> None:
    customer = api.post("/customers", {"customer_no": "1001", "name": "Astrid Lindqvist"}).json()
    body = {"customer": customer["id"], "lines": [LINE]}

    def create(_: int) -> Any:
        return api.post("/invoices", body, headers={"Idempotency-Key": "one-invoice"})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(create, range(20)))
    statuses = sorted({r.status_code for r in responses})
    assert set(statuses) <= {201, 409}, [(r.status_code, r.text) for r in responses]
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert len(api.get("/invoices").json()["data"]) == 1


@pytest.mark.skipif(ENGINE != "sqlite", reason="SQLite's write lock")
def test_reads_run_while_another_process_holds_the_write_lock(api: Api, client: TestClient, database_url: str) -> None:
    customer = api.post("/customers", {"customer_no": "1001", "name": "Astrid Lindqvist"}).json()
    draft = api.post("/invoices", {"customer": customer["id"], "lines": [LINE]}).json()
    issued = api.post(f"/invoices/{draft['id']}/issue").json()
    token = issued["url"].rsplit("/", 1)[1]
    assert client.get(f"/i/{token}").status_code == 200  # the first view writes the form key
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")  # held until the end: a read that needed it would fail
        assert api.get(f"/invoices/{issued['id']}").json()["total"] == issued["total"]
        assert len(api.get("/invoices").json()["data"]) == 1
        assert client.get(f"/i/{token}").status_code == 200
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@pytest.mark.skipif(ENGINE != "sqlite", reason="the guard is SQLite's PRAGMA query_only")
def test_a_read_only_unit_of_work_cannot_write(db: Database) -> None:
    from sqlalchemy.exc import OperationalError

    with db.read() as session, pytest.raises(OperationalError, match="readonly"):
        session.execute(update(ApiKey).values(name="x"))
    with db.transaction() as session:  # the same pooled connection writes again as a writer
        session.execute(update(ApiKey).values(name="x"))


def test_an_unchanged_web_invoice_answers_304_and_a_change_gives_a_new_page(api: Api, client: TestClient) -> None:
    customer = api.post("/customers", {"customer_no": "1001", "name": "Astrid Lindqvist"}).json()
    draft = api.post("/invoices", {"customer": customer["id"], "lines": [LINE]}).json()
    issued = api.post(f"/invoices/{draft['id']}/issue").json()
    path = "/i/" + issued["url"].rsplit("/", 1)[1]
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    assert "last-modified" in first.headers
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path + "?tab=meddelanden", headers={"If-None-Match": etag}).status_code == 200
    api.post(f"/invoices/{issued['id']}/payments", {"amount": 1000})
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_point_reads_run_on_the_event_loop_on_sqlite_and_in_one_hop_elsewhere(
    api: Api, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decisions/0004: a GET of one object by its key (``@point_read``) and the web invoice's read
    take no thread hand-over on SQLite (a file in this process: nothing to wait for that the loop
    could overlap), one on PostgreSQL; a list keeps its one hop on both."""
    from kvitt.core import api as core_api
    from kvitt.web import routes as web_routes

    customer = api.post("/customers", {"customer_no": "1001", "name": "Astrid Lindqvist"}).json()
    draft = api.post("/invoices", {"customer": customer["id"], "lines": [LINE]}).json()
    issued = api.post(f"/invoices/{draft['id']}/issue").json()
    page = "/i/" + issued["url"].rsplit("/", 1)[1]
    assert client.get(page).status_code == 200  # the first view writes its form key (a hop)
    hops: list[str] = []
    real = core_api.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func.__name__)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(core_api, "run_in_threadpool", counted)
    monkeypatch.setattr(web_routes, "run_in_threadpool", counted)
    assert api.get(f"/invoices/{issued['id']}").json()["total"] == issued["total"]
    assert api.get(f"/customers/{customer['id']}").json()["name"] == "Astrid Lindqvist"
    assert client.get(page).status_code == 200
    assert hops == ([] if ENGINE == "sqlite" else ["_in_unit", "_in_unit", "_read_page"])
    hops.clear()
    assert len(api.get("/invoices").json()["data"]) == 1
    assert hops == ["_in_unit"]
