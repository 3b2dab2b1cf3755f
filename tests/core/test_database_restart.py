"""A PostgreSQL restart under load: requests fail cleanly with 503 while the server is away and
succeed again once it is back, without restarting Kvitt (no pre-ping: a dropped connection is
found by the request that meets it, retried once on a fresh connection, or answered 503).

The server is a private cluster (initdb + pg_ctl in a temporary folder, on a free port): the
shared test server must never be restarted under other tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kvitt.app import create_app
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.migrations import upgrade
from kvitt.tenants import keys
from kvitt.tenants import service as tenants
from kvitt.tenants.schemas import TenantCreate

BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
PG_BIN = Path(BIN_DIRS[-1]) if BIN_DIRS else (Path(found).parent if (found := shutil.which("pg_ctl")) else None)

pytestmark = pytest.mark.skipif(
    PG_BIN is None or not (PG_BIN / "initdb").exists(),
    reason="PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A throwaway PostgreSQL server. As root, it runs as the ``postgres`` user (initdb refuses root)."""

    def __init__(self, folder: Path) -> None:
        assert PG_BIN is not None
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        assert PG_BIN is not None
        done = subprocess.run(
            [*self.as_user, str(PG_BIN / tool), *args], capture_output=True, text=True, cwd=self.folder
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr + done.stdout)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp_path: the postgres user must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="kvitt-pg-"))
    try:
        server = Cluster(folder)
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_database_restart_gives_503_and_kvitt_recovers_without_a_restart(cluster: Cluster) -> None:
    keys.clear()
    upgrade(cluster.url)
    db = Database(cluster.url)
    with db.transaction() as session:
        _, key = tenants.create(
            session, TenantCreate(name="Norrsken Telekom AB", org_number="556036-0793", bankgiro="5050-1055")
        )
    app = create_app(Settings(database_url=cluster.url, embedded_worker=False, public_url="https://kvitt.test"), db)
    headers = {"Authorization": f"Bearer {key}"}
    phase = "up"
    seen: list[tuple[str, str, int]] = []
    stop = threading.Event()

    with TestClient(app, raise_server_exceptions=False) as client:
        customer = client.post("/api/v1/customers", json={"customer_no": "1", "name": "Bo Ek"}, headers=headers).json()
        line = {"description": "Abonnemang", "quantity": "1", "unit_price": 10000, "vat_rate": 25}
        body = {"customer": customer["id"], "lines": [line]}
        draft = client.post("/api/v1/invoices", json=body, headers=headers).json()
        page = client.post(f"/api/v1/invoices/{draft['id']}/issue", headers=headers).json()["url"]
        token = page.rsplit("/", 1)[1]

        def load(kind: str) -> None:
            while not stop.is_set():
                now = phase
                if kind == "get":
                    response: Any = client.get(f"/api/v1/invoices/{draft['id']}", headers=headers)
                elif kind == "post":
                    response = client.post("/api/v1/invoices", json=body, headers=headers)
                else:
                    response = client.get(f"/i/{token}")
                seen.append((now, kind, response.status_code))

        threads = [threading.Thread(target=load, args=(kind,)) for kind in ("get", "post", "web", "get")]
        for thread in threads:
            thread.start()
        try:
            _wait_for(lambda: sum(1 for p, _, s in seen if p == "up" and s < 300) >= 20, "load before the restart")
            cluster.stop()
            phase = "down"
            _wait_for(lambda: sum(1 for p, _, _ in seen if p == "down") >= 20, "answers while the database is away")
            cluster.start()
            phase = "back"
            _wait_for(
                lambda: {k for p, k, s in seen if p == "back" and s < 300} >= {"get", "post", "web"},
                "answers after the restart",
            )
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    db.dispose()
    statuses = {(p, s) for p, _, s in seen}
    unexpected = [(p, k, s) for p, k, s in seen if s not in (200, 201, 503)]
    assert not unexpected, unexpected[:5]
    down = [s for p, _, s in seen if p == "down"]
    assert 503 in down, statuses
    # Once the server is back, every kind of request succeeds again in the same process.
    assert {k for p, k, s in seen if p == "back" and s < 300} == {"get", "post", "web"}


def _wait_for(condition: Any, what: str, limit: float = 120.0) -> None:
    """Poll until ``condition()``; a limit only so that a broken run ends (not a timing check)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"never got: {what}"
        time.sleep(0.05)
