"""Every app made in one process takes the same built routes (kvitt.app.shared_routes, built once
per process: docs/testing.md, "CI time, third pass"). Sharing them must change nothing an app
serves: the same routes and OpenAPI document as FastAPI's own ``include_router`` gives, each app
on its own database and settings, and each app's own ``dependency_overrides``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from kvitt import __version__, apidocs
from kvitt.app import OPENAPI_URL, create_app, include_routes, shared_routes
from kvitt.core.api import request_tenant
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.migrations import upgrade
from tests.conftest import ENGINE, TENANT_A, make_tenant


def _routes(app: FastAPI) -> list[tuple[Any, ...]]:
    """Every route as it matches: path, methods and name."""
    return [
        (context.path_format, sorted(context.methods or ()), context.name)
        for context in iter_route_contexts(app.routes)
    ]


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


@pytest.fixture
def other_database(database_template: str, tmp_path: Path) -> Iterator[Database]:
    """A second migrated database, not the test's: a copy of the SQLite template, or on the
    PostgreSQL run a SQLite file migrated here (the worker has one PostgreSQL database)."""
    path = tmp_path / "other.db"
    if ENGINE == "sqlite":
        shutil.copy(database_template, path)
    else:
        upgrade(f"sqlite:///{path}")
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


def test_two_apps_serve_what_fastapis_own_include_router_gives(app: FastAPI, db: Database, settings: Settings) -> None:
    second = create_app(settings, db, embedded_worker=False)
    # The reference: the same routers included the way FastAPI does it, built for this app alone.
    reference = FastAPI(title="Kvitt API", version=__version__, openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None)
    include_routes(reference)

    first_routes = _routes(app)
    assert first_routes == _routes(second)
    own = {"/", "/metrics", "/livez", "/readyz", "/healthz"}  # the app's own, after the shared ones
    shared = [route for route in first_routes if route[0] not in own]
    assert shared == _routes(reference)
    assert [route[0] for route in first_routes[len(shared) :]] == ["/", "/metrics", "/livez", "/readyz", "/healthz"]
    assert len(shared) > 200

    document = app.openapi()
    assert len(document["paths"]) > 50
    assert _canonical(document) == _canonical(second.openapi())
    assert _canonical(document) == _canonical(apidocs.describe(reference))
    # Both apps were given the one set built in this process, not a set each.
    assert shared_routes().routes[0] in app.router.routes
    assert shared_routes().routes[0] in second.router.routes


def test_two_apps_on_two_databases_see_only_their_own(
    app: FastAPI, db: Database, settings: Settings, other_database: Database
) -> None:
    other_settings = Settings(
        database_url=str(other_database.engine.url),
        embedded_worker=False,
        public_url="https://other.kvitt.test",
        max_body_bytes=1024,
    )
    other = create_app(other_settings, other_database, embedded_worker=False)
    # The same tenant (id 1) in each database, each with its own key.
    tenant, key = make_tenant(db, **TENANT_A)
    other_tenant, other_key = make_tenant(other_database, **TENANT_A)
    assert tenant == other_tenant
    with TestClient(app) as client, TestClient(other) as other_client:
        made = client.post("/api/v1/customers", json={"customer_no": "1", "name": "Ada Svensson"}, headers=_auth(key))
        assert made.status_code == 201, made.text
        mine = client.get("/api/v1/customers", headers=_auth(key)).json()["data"]
        theirs = other_client.get("/api/v1/customers", headers=_auth(other_key)).json()["data"]
        assert [customer["name"] for customer in mine] == ["Ada Svensson"]
        assert theirs == []
        # Each app's settings: the other app's 1 KiB body limit is not this one's.
        body = {"customer_no": "2", "name": "Bertil", "attributes": {"note": "x" * 2000}}
        assert client.post("/api/v1/customers", json=body, headers=_auth(key)).status_code == 201
        too_large = other_client.post("/api/v1/customers", json=body, headers=_auth(other_key))
        assert too_large.status_code == 413
    assert app.state.db is db and other.state.db is other_database
    assert app.state.settings is settings and other.state.settings is other_settings


def _refuse_every_tenant() -> None:
    raise HTTPException(status_code=418, detail="overridden")


def test_dependency_overrides_are_the_serving_apps_own(
    app: FastAPI, db: Database, settings: Settings, tenant_a: tuple[int, str]
) -> None:
    other = create_app(settings, db, embedded_worker=False)
    headers = _auth(tenant_a[1])
    app.dependency_overrides[request_tenant] = _refuse_every_tenant
    with TestClient(app) as client, TestClient(other) as other_client:
        assert client.get("/api/v1/customers", headers=headers).status_code == 418
        assert other_client.get("/api/v1/customers", headers=headers).status_code == 200
        app.dependency_overrides.clear()
        assert client.get("/api/v1/customers", headers=headers).status_code == 200


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
