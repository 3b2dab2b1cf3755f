"""Kvitt served by uvicorn on loopback, driven by Billogram's own client (``billogram_api``
1.2 from PyPI, unmodified) through ``api_base``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from billogram_api import BillogramAPI  # type: ignore[import-untyped]

from kvitt.app import create_app
from kvitt.billogram.auth import user_name
from kvitt.billogram.route import PREFIX
from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.simulators import RunningServer, serve_in_thread
from tests.conftest import TENANT_A, TENANT_B, make_tenant


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(settings, db, embedded_worker=False)) as running:
        yield running


def client_for(server: RunningServer, db: Database, fields: dict[str, Any]) -> tuple[BillogramAPI, int, str]:
    tenant_id, key = make_tenant(db, **fields)
    user = user_name(tenant_id, fields["org_number"])
    return BillogramAPI(user, key, api_base=server.url + PREFIX), tenant_id, key


@pytest.fixture
def bg(server: RunningServer, db: Database) -> BillogramAPI:
    return client_for(server, db, TENANT_A)[0]


@pytest.fixture
def bg_b(server: RunningServer, db: Database) -> BillogramAPI:
    return client_for(server, db, TENANT_B)[0]
