"""Browser tests: Debian's Chromium driven by Playwright against a real uvicorn server.

One browser per test module (``browser`` in tests/conftest.py). One uvicorn server per session
on a free loopback port; it serves whichever app the running test made (the test's own
database, SQLite or PostgreSQL), so every test starts from an empty database like the rest of
the suite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tests.loopback import free_port


class CurrentApp:
    """An ASGI app that hands each request to the app of the test that is running."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "no test app set"
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def live_server() -> Iterator[tuple[str, CurrentApp]]:
    current = CurrentApp()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(current, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", current
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def base_url(live_server: tuple[str, CurrentApp], app: Any) -> Iterator[str]:
    url, current = live_server
    current.app = app
    yield url
    current.app = None
