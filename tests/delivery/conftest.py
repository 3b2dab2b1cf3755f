"""Real parts for delivery tests: an aiosmtpd SMTP server, the simulators over HTTP, a print folder."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import update

from kvitt.core.config import get_settings
from kvitt.core.db import Database, utcnow
from kvitt.core.outbox import PENDING, OutboxJob
from kvitt.worker import Worker
from tests.conftest import Api


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received; ``refuse`` maps an address to the reply for RCPT TO."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    port: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        raw = envelope.original_content or b""
        self.messages.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def delivery_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mailbox: Mailbox, database_url: str
) -> Iterator[dict[str, Any]]:
    """KVITT_* settings that point delivery at the test SMTP server and a print folder."""
    env = {
        "KVITT_DATABASE_URL": database_url,
        "KVITT_PUBLIC_URL": "https://kvitt.test",
        "KVITT_SMTP_HOST": "127.0.0.1",
        "KVITT_SMTP_PORT": str(mailbox.port),
        "KVITT_MAIL_FROM": "faktura@kvitt.test",
        "KVITT_PRINT_DIR": str(tmp_path / "print"),
        "KVITT_JOB_MAX_ATTEMPTS": "4",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


def drain(db: Database, rounds: int = 30) -> int:
    """Run the worker until no job is left, pulling every waiting job's time forward.

    Print batches wait for their time slot, retries for their backoff, access point status
    polls for their delay: here time is not waited for, the jobs just run in their order.
    """
    worker = Worker(db, worker_id="test-worker")
    total = 0
    for _ in range(rounds):
        with db.transaction() as session:
            session.execute(update(OutboxJob).where(OutboxJob.state == PENDING).values(run_at=utcnow()))
        ran = worker.run_until_idle()
        total += ran
        if not ran:
            break
    return total


def customer(api: Api, no: str, **fields: Any) -> dict[str, Any]:
    body = {
        "customer_no": no,
        "name": "Astrid Lindqvist",
        "address_line1": "Storgatan 1",
        "postal_code": "11122",
        "city": "Stockholm",
        **fields,
    }
    response = api.post("/customers", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def issue(api: Api, customer_id: int, price: int = 31600) -> dict[str, Any]:
    lines = [{"description": "Mobilabonnemang Fri", "quantity": "1", "unit_price": price, "vat_rate": 25}]
    draft = api.post("/invoices", {"customer": customer_id, "lines": lines})
    assert draft.status_code == 201, draft.text
    issued = api.post(f"/invoices/{draft.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def event_types(api: Api, invoice_id: int) -> list[str]:
    return [e["type"] for e in api.get(f"/invoices/{invoice_id}/events").json()["data"]]


def deliveries(api: Api, invoice_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/invoices/{invoice_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])
