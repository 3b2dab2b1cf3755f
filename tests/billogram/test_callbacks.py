"""Billogram-style callbacks: configured through the Billogram API's settings, delivered by
Kvitt's webhook machinery (the worker's jobs) to a receiver on loopback, signed as Billogram
signs them: md5(callback_id + sign_key)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from billogram_api import BillogramAPI, BillogramExceptions  # type: ignore[import-untyped]

from kvitt.core.config import Settings
from kvitt.core.db import Database
from kvitt.formats import billogram as codec
from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.worker import Worker

E = BillogramExceptions


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, RunningServer]]:
    app = Receiver()
    with serve_in_thread(app) as running:
        yield app, running


def test_callbacks_signed_as_billogram_signs_them(
    bg: BillogramAPI,
    db: Database,
    settings: Settings,
    receiver: tuple[Receiver, RunningServer],
    delivery_env: dict[str, str],
) -> None:
    inbox, running = receiver
    answer = bg.settings.update({"callbacks": {"url": running.url + "/billogram", "custom": "shop-1"}})
    sign_key = answer["callbacks"]["sign_key"]
    assert answer["callbacks"]["url"] == running.url + "/billogram" and len(sign_key) > 20
    with pytest.raises(E.ReadOnlyFieldError):
        bg.settings.update({"callbacks": {"sign_key": "mine"}})
    bg.items.create({"item_no": "1", "title": "Mobilabonnemang", "price": 316, "vat": 25})
    bg.customers.create({"customer_no": 1, "name": "Astrid Lindqvist", "contact": {"email": "astrid@example.se"}})
    sent = bg.billogram.create_and_send(
        {"customer": {"customer_no": 1}, "items": [{"item_no": "1", "count": 1}]}, "Email"
    )
    sent.create_payment(100.25)
    Worker(db, settings, worker_id="test-worker").run_until_idle()

    callbacks = [codec.loads(body) for body in inbox.bodies]
    assert callbacks, "no callback arrived"
    for callback in callbacks:
        expected = hashlib.md5((callback["callback_id"] + sign_key).encode()).hexdigest()
        assert callback["signature"] == expected
        assert callback["custom"] == "shop-1"
        assert callback["billogram"]["id"] == sent["id"]
    by_type = {callback["event"]["type"]: callback for callback in callbacks}
    assert {"Created", "Sent", "Payment"} <= set(by_type)
    payment = by_type["Payment"]
    assert payment["event"]["data"]["amount"] == Decimal("100.25")
    assert payment["billogram"]["total_sum"] == Decimal("395.00")
    assert payment["billogram"]["remaining_sum"] == Decimal("294.75")
    assert payment["billogram"]["state"] == "Partly paid"
    assert len({callback["callback_id"] for callback in callbacks}) == len(callbacks)

    bg.settings.update({"callbacks": {"url": ""}})
    assert bg.settings.refresh()["callbacks"] == {"url": "", "sign_key": "", "custom": ""}
