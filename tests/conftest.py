"""Test databases: every test runs on a fresh database, SQLite or PostgreSQL.

``KVITT_TEST_DB=sqlite`` (default) or ``postgresql`` picks the engine for the whole run;
``make test`` runs the suite once on each. On PostgreSQL each xdist worker gets its own
database (pytest-postgresql's janitor creates and drops it), migrated once and emptied
after every test; on SQLite each test gets a copy of a migrated template file.

``KVITT_TEST_DB_ONLY=1`` deselects the tests that cannot tell the two databases apart, so that
``make test``'s second run (PostgreSQL) does not repeat them; see ``uses_test_database`` and
docs/testing.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Playwright, sync_playwright
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy import text

from kvitt.admin import passwords
from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.migrations import upgrade
from kvitt.models import Base
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate
from tests.loopback import delivery_env, mailbox

ENGINE = os.environ.get("KVITT_TEST_DB", "sqlite")
PG_HOST = os.environ.get("KVITT_TEST_PG_HOST", "localhost")
PG_PORT = int(os.environ.get("KVITT_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("KVITT_TEST_PG_USER", "postgres")

__all__ = ["delivery_env", "mailbox"]  # fixtures for every test that sends email


DB_ONLY = os.environ.get("KVITT_TEST_DB_ONLY", "") == "1"
# Names through which a test module reads which database the run is for (and may then reach the
# run's PostgreSQL server by hand, or skip on the other engine): its tests count as using it.
ENGINE_NAMES = ("ENGINE", "PG_HOST", "PG_PORT", "PG_USER")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "test_database: the test reaches the run's database (KVITT_TEST_DB) without the database fixtures; "
        "KVITT_TEST_DB_ONLY=1 keeps it",
    )


def pytest_report_header() -> str:
    only = ", only the tests that use it (KVITT_TEST_DB_ONLY=1)" if DB_ONLY else ""
    return f"kvitt test database: {ENGINE}{only}"


def uses_test_database(item: pytest.Item) -> bool:
    """Whether the test can tell SQLite from PostgreSQL, so that it must run on both.

    Every fixture that gives a database (``database_url``, ``db``, ``settings``, ``app``,
    ``client``, ``api``, ``cli_env``, the tenants, and every fixture built on them) depends on
    ``database_template``, so a test uses the run's database when that fixture is in its
    closure. A module that imports the engine's name from here (``ENGINE``, ``PG_*``) may skip
    or connect by hand, so its tests count as using it too; so does the ``test_database``
    marker. What is left (codecs, pure units, Hypothesis properties, lint-like checks, and the
    tests that make their own SQLite file or PostgreSQL cluster) does the same on either run.
    """
    if "database_template" in getattr(item, "fixturenames", ()):
        return True
    if item.get_closest_marker("test_database") is not None:
        return True
    module = getattr(item, "module", None)
    return module is not None and any(name in vars(module) for name in ENGINE_NAMES)


# The modules whose tests take longest (docs/testing.md, "CI time"), longest first. xdist hands
# each worker its tests in collection order; one of these last in a worker's queue left the other
# worker idle for up to 100 s at the end of the run. Run first, the short tests fill in behind.
LONG_FIRST = (
    "tests/testclock/test_a_year.py",
    "tests/formats/test_bgmax_fuzz.py",
    "tests/test_openapi_fuzz.py",
    "tests/documents/test_fast_paths.py",
    "tests/dunning/test_a_year.py",
    "tests/formats/test_billing_file.py",
    "tests/faults/",
    "tests/checkout/test_kill_booking.py",
    "tests/e2e/",
    "tests/test_architecture.py",
)


def long_first_rank(item: pytest.Item) -> int:
    """Where the item's module stands in LONG_FIRST; every other module after them all."""
    path = item.nodeid.split("::", 1)[0]
    return next((rank for rank, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)), len(LONG_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DB_ONLY:
        kept = [item for item in items if uses_test_database(item)]
        if len(kept) < len(items):
            kept_ids = {id(item) for item in kept}
            config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept_ids])
            items[:] = kept
    # A stable sort: the tests of one module stay together and in their order (module fixtures).
    items.sort(key=long_first_rank)


# Staff passwords in tests: argon2id still, with the smallest cost argon2 allows. The
# production hasher (argon2-cffi's defaults, 64 MiB and 3 passes: kvitt.admin.passwords) takes
# 0.1 s a hash on an idle machine and 1 s under CI's load, and every back-office test hashes a
# password for its staff member and verifies it at login; tests/admin/test_password_cost.py
# checks that production keeps its cost.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PRODUCTION_HASHER = passwords._hasher


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", CHEAP_HASHER)
        # Verified against for an unknown address (the same time as a wrong password).
        patch.setattr(passwords, "_DUMMY_HASH", CHEAP_HASHER.hash("not a password of anyone"))
        yield


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    if ENGINE == "postgresql":
        # The process id keeps two runs on one machine (two developers, CI) apart.
        name = f"kvitt_test_{os.getpid()}_{worker_id}"
        janitor = DatabaseJanitor(user=PG_USER, host=PG_HOST, port=PG_PORT, dbname=name)
        with contextlib.suppress(Exception):
            janitor.drop()
        janitor.init()
        url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        # The tests kill processes, never the server: a commit need not wait for the disk (the
        # WAL is still written in order, so what a killed client committed stays committed).
        admin = Database(url)
        with admin.engine.begin() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        admin.dispose()
        upgrade(url)
        yield url
        janitor.drop()
    else:
        path = tmp_path_factory.mktemp("db") / "template.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if ENGINE == "postgresql":
        return database_template
    path = tmp_path / "kvitt.db"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


# Above this many rows in all (counted up to it), TRUNCATE is the cheaper way to empty.
DELETE_AT_MOST = 2000


def empty_postgresql(database: Database) -> None:
    """Empty every table and restart every sequence used, as ``TRUNCATE ... RESTART IDENTITY``
    would: a test starts from the same empty database (ids from 1) as on SQLite.

    Most tests leave a few rows: DELETE on the tables that hold any (children before parents,
    so no foreign key is broken) and ``setval`` on each sequence that was used (rolled back
    inserts too). TRUNCATE of all 64 tables gives each table and index a new file: 1-2 s a test
    on the shared CI machine against 0.06-0.15 s for the DELETEs (docs/testing.md). A test that
    leaves thousands of rows (a simulated year) is truncated as before, where DELETE is slower.
    """
    tables = Base.metadata.sorted_tables
    # The names come from our own metadata, never from input.
    counts = " UNION ALL ".join(
        f"SELECT '{table.name}', (SELECT count(*) FROM (SELECT 1 FROM \"{table.name}\" LIMIT {DELETE_AT_MOST}) AS r)"
        for table in tables
    )
    with database.engine.begin() as connection:
        rows = {name: int(count) for name, count in connection.execute(text(counts)) if count}
        if sum(rows.values()) >= DELETE_AT_MOST:
            names = ", ".join(table.name for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        for table in reversed(tables):
            if table.name in rows:
                connection.execute(table.delete())
        connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) FROM pg_sequences "
                "WHERE schemaname = current_schema() AND last_value IS NOT NULL"
            )
        )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    if ENGINE == "postgresql":
        empty_postgresql(database)
    database.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, embedded_worker=False, public_url="https://kvitt.test")


@pytest.fixture
def app(settings: Settings, db: Database) -> Iterator[Any]:
    application = create_app(settings, db, embedded_worker=False)
    yield application
    # The app keeps its BankID client (kvitt.web.autogiro.bankid_client) in its state and never
    # closes it: its idle keep-alive TLS connection then held a module's BankID simulator open
    # until RunningServer.stop gave up after 10 s (three such teardowns in a run).
    bankid_client = getattr(application.state, "bankid_client", None)
    if bankid_client is not None:
        bankid_client.close()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def cli_env(database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI on the test database (through `db`, so that PostgreSQL is emptied afterwards)."""
    from kvitt.core.config import get_settings

    monkeypatch.setenv("KVITT_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


TENANT_A = {"name": "Norrsken Telekom AB", "org_number": "556036-0793", "bankgiro": "5050-1055"}
TENANT_B = {"name": "Fjällström Energi AB", "org_number": "556016-0680", "bankgiro": "991-2346"}


def make_tenant(db: Database, **fields: Any) -> tuple[int, str]:
    with db.transaction() as session:
        tenant, key = tenants.create(session, TenantCreate(**fields))
        return tenant.id, key


@pytest.fixture
def tenant_a(db: Database) -> tuple[int, str]:
    return make_tenant(db, **TENANT_A)


@pytest.fixture
def tenant_b(db: Database) -> tuple[int, str]:
    return make_tenant(db, **TENANT_B)


class Api:
    """A client that acts for one tenant."""

    def __init__(self, client: TestClient, key: str, tenant_id: int) -> None:
        self.client = client
        self.key = key
        self.tenant_id = tenant_id

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch("/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def api(client: TestClient, tenant_a: tuple[int, str]) -> Api:
    return Api(client, tenant_a[1], tenant_a[0])


@pytest.fixture
def api_b(client: TestClient, tenant_b: tuple[int, str]) -> Api:
    return Api(client, tenant_b[1], tenant_b[0])


# --- the browser (Debian's Chromium through Playwright) -----------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """One Playwright per test module, defined once for every folder.

    Not per session: Playwright's sync API keeps its event loop marked as running in the
    worker's thread while it lives, so a later test of another module that calls
    ``asyncio.run`` failed ("cannot be called from a running event loop"), and a second
    session fixture of another folder failed to start ("Sync API inside the asyncio loop").
    Which tests met depended on how xdist spread them over its workers.
    """
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Never a downloaded browser: Debian's, installed by .ci/run.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
