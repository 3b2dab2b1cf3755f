"""/livez, /readyz, /healthz, and the API's answer while the database is down or not migrated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.core.readiness import schema_heads
from kvitt.migrations import upgrade
from tests.conftest import ENGINE, PG_HOST, PG_PORT, PG_USER, Api
from tests.loopback import free_port

HEAD = ",".join(schema_heads())


@pytest.fixture
def client_on() -> Iterator[object]:
    """A client of an app on the given database URL (not the test database)."""
    apps: list[tuple[TestClient, Database]] = []

    def make(url: str) -> TestClient:
        db = Database(url)
        client = TestClient(create_app(Settings(database_url=url), db, embedded_worker=False))
        client.__enter__()
        apps.append((client, db))
        return client

    yield make
    for client, db in apps:
        client.__exit__(None, None, None)
        db.dispose()


def test_livez_readyz_and_healthz_on_a_migrated_database(client: TestClient) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/livez").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["schema"] == ready.json()["schema_head"] == HEAD
    healthz = client.get("/healthz")  # as before: the benchmarks' trivial baseline
    assert healthz.status_code == 200 and healthz.json()["status"] == "ok"


def test_an_unmigrated_database_is_not_ready_and_the_api_says_to_migrate(
    client_on: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "empty.db"
    path.touch()  # a database file with no schema in it
    client = client_on(f"sqlite:///{path}")  # type: ignore[operator]
    assert client.get("/livez").status_code == 200  # the process is alive all the same
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "schema_missing"
    assert ready.json()["message"] == f"the database at {path} has no Kvitt schema: run `kvitt migrate`"
    for _ in range(3):
        response = client.get("/api/v1/invoices", headers={"Authorization": "Bearer sk_test_x"})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"] == {
            "type": "api_error",
            "code": "schema_missing",
            "message": f"the database at {path} has no Kvitt schema: run `kvitt migrate`",
            "param": None,
        }
    page = client.get("/i/" + "A" * 32)  # a well-formed token: the page looks it up
    assert page.status_code == 503 and "Unavailable" in page.text
    assert "Traceback" not in caplog.text
    upgrade(f"sqlite:///{path}")
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/invoices", headers={"Authorization": "Bearer sk_test_x"}).status_code == 401


def test_an_outdated_schema_is_not_ready_and_names_both_revisions(client_on: object, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0005")
    client = client_on(url)  # type: ignore[operator]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "schema_outdated"
    assert ready.json()["schema"] == "0005" and ready.json()["schema_head"] == HEAD
    assert ready.json()["message"].endswith(f"is at 0005, this Kvitt needs {HEAD}: run `kvitt migrate`")


def test_postgresql_down_is_not_ready(client_on: object) -> None:
    port = free_port()
    client = client_on(f"postgresql://kvitt@127.0.0.1:{port}/kvitt")  # type: ignore[operator]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "database_unreachable"
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port} (connection refused)" in ready.json()["message"]
    response = client.get("/api/v1/customers", headers={"Authorization": "Bearer sk_test_x"})
    assert response.status_code == 503


@pytest.mark.skipif(ENGINE != "postgresql", reason="needs the PostgreSQL server of KVITT_TEST_DB=postgresql")
def test_a_missing_postgresql_database_is_not_ready_and_named(client_on: object) -> None:
    client = client_on(f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/kvitt_no_such_database")  # type: ignore[operator]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "database_missing"
    assert 'the database "kvitt_no_such_database" does not exist' in ready.json()["message"]


def test_a_database_error_on_a_ready_database_is_still_a_500(api: Api, client: TestClient) -> None:
    """The 503 is for a database that is not ready; on a ready one a database error is a bug."""
    from sqlalchemy import text

    app = client.app

    @app.get("/api/v1/broken-for-test", include_in_schema=False)  # type: ignore[attr-defined]
    def broken() -> None:
        with app.state.db.transaction() as session:  # type: ignore[attr-defined]
            session.execute(text("SELECT no_such_column FROM customers"))

    quiet = TestClient(app, raise_server_exceptions=False)
    response = quiet.get("/api/v1/broken-for-test")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
