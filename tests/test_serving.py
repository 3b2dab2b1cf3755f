"""``kvitt serve --workers N``: several API processes on one port, with Nagle's algorithm off."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kvitt.core.db import Database
from kvitt.serving import NoDelayConfig
from tests.conftest import TENANT_A, make_tenant
from tests.loopback import free_port

KVITT = Path(sys.executable).with_name("kvitt")


def test_connections_accepted_on_the_shared_socket_have_nagle_off() -> None:
    # A response split over two writes would otherwise wait for the client's delayed ACK (~40 ms).
    listener = NoDelayConfig("kvitt.app:create_app", host="127.0.0.1", port=free_port()).bind_socket()
    try:
        listener.listen()
        with socket.create_connection(listener.getsockname()[:2]):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_two_api_processes_answer_on_one_port(db: Database, database_url: str) -> None:
    _, key = make_tenant(db, **TENANT_A)
    port = free_port()
    env = {**os.environ, "KVITT_DATABASE_URL": database_url, "KVITT_LOG_LEVEL": "WARNING"}
    command = [str(KVITT), "serve", "--no-worker", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if httpx.get(f"{base}/livez", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kvitt serve --workers 2 did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            created = client.post("/api/v1/customers", json={"customer_no": "1001", "name": "Astrid Lindqvist"})
            assert created.status_code == 201, created.text
            answers = [client.get(f"/api/v1/customers/{created.json()['id']}").status_code for _ in range(20)]
        assert answers == [200] * 20
        assert len(children_of(server.pid)) >= 2  # two API processes (multiprocessing may add a helper)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert server.returncode == 0
