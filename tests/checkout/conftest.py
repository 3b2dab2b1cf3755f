"""The Swish simulator over real mutual TLS on loopback, and Kvitt pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kvitt.app import create_app
from kvitt.checkout.swish import SwishClient, tls_context
from kvitt.core.config import Settings, get_settings
from kvitt.core.db import Database
from kvitt.core.outbox import runner_for
from kvitt.ledger.models import JournalLine
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.card import CardSimulator
from kvitt.simulators.card import settings_for as card_settings
from kvitt.simulators.swish import Certificates, SwishSimulator, make_certificates, serve_tls, settings_for
from tests.conftest import TENANT_A, make_tenant
from tests.loopback import free_port


@dataclass
class SwishRig:
    simulator: SwishSimulator
    server: RunningServer
    certs: Certificates

    def client(self) -> SwishClient:
        context = tls_context(str(self.certs.client_cert), str(self.certs.client_key), str(self.certs.ca))
        return SwishClient(self.server.url, context)


@pytest.fixture(scope="session")
def swish_certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(Path(tmp_path_factory.mktemp("swish-certs")))


@pytest.fixture
def swish(swish_certs: Certificates) -> Iterator[SwishRig]:
    simulator = SwishSimulator(pay_after=0.2)
    with serve_tls(simulator.app(), swish_certs) as server:
        yield SwishRig(simulator, server, swish_certs)


def wait_for(condition: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.05)


# --- Kvitt served on loopback, pointed at the Swish simulator ----------------------------------


@dataclass
class Shop:
    """A live Kvitt (real HTTP, so providers can call back) with one tenant, and its job runner."""

    url: str
    api: httpx.Client
    db: Database
    tenant_id: int
    swish: SwishRig
    card_url: str = ""

    def drain(self, condition: Callable[[], object], seconds: float = 30.0) -> None:
        """Run due jobs until ``condition`` holds (polls are scheduled seconds ahead)."""
        run = runner_for(self.db)
        deadline = time.monotonic() + seconds
        while True:
            run()
            if condition():
                return
            if time.monotonic() > deadline:
                raise AssertionError("the condition did not come true in time")
            time.sleep(0.1)

    def issued_invoice(self, unit_price: int = 34480, customer_no: str = "C-1") -> dict[str, Any]:
        # By letter: the letter waits for its print batch, so no email job runs while a test
        # drains the queue (the payment is what these tests are about).
        body = {"customer_no": customer_no, "name": "Astrid Lindqvist", "delivery_method": "letter"}
        customer = self.api.post(
            "/customers", json={**body, "address_line1": "Storgatan 1", "postal_code": "11122", "city": "Stockholm"}
        ).json()
        line = {"description": "Mobilabonnemang", "quantity": "1", "unit_price": unit_price, "vat_rate": 25}
        draft = self.api.post("/invoices", json={"customer": customer["id"], "lines": [line]}).json()
        issued = self.api.post(f"/invoices/{draft['id']}/issue")
        assert issued.status_code == 200, issued.text
        return dict(issued.json())

    def request(self, request_id: int) -> dict[str, Any]:
        return dict(self.api.get(f"/payment-requests/{request_id}").json())

    def ledger(self) -> dict[str, int]:
        """Each account's balance; and every entry of the tenant sums to zero."""
        with self.db.transaction() as session:
            unbalanced = session.execute(
                select(JournalLine.entry_id)
                .where(JournalLine.tenant_id == self.tenant_id)
                .group_by(JournalLine.entry_id)
                .having(func.sum(JournalLine.amount) != 0)
            ).all()
            assert unbalanced == [], f"unbalanced entries: {unbalanced}"
            rows = session.execute(
                select(JournalLine.account, func.sum(JournalLine.amount))
                .where(JournalLine.tenant_id == self.tenant_id)
                .group_by(JournalLine.account)
            ).all()
        return {account: int(total) for account, total in rows}


@pytest.fixture
def shop(db: Database, settings: Settings, swish: SwishRig, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for key, value in settings_for(swish.server, swish.certs).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KVITT_PUBLIC_URL", url)
    get_settings.cache_clear()
    live = settings.model_copy(update={"public_url": url})
    tenant_id, key = make_tenant(db, **TENANT_A, swish_number="1231181189")
    server = serve_in_thread(create_app(live, db, embedded_worker=False), port=port)
    client = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        yield Shop(url, client, db, tenant_id, swish)
    finally:
        client.close()
        server.stop()
        get_settings.cache_clear()


# --- the card simulator (Stripe's API subset), and Kvitt pointed at it --------------------------


@pytest.fixture
def card(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> Iterator[CardSimulator]:
    simulator = CardSimulator(webhook_url=f"{shop.url}/callbacks/stripe")
    with serve_in_thread(simulator.app()) as server:
        for key, value in card_settings(server.url, simulator).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        shop.card_url = server.url
        yield simulator
