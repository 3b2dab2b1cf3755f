"""Real servers on loopback for the tests: a free port, an SMTP server (aiosmtpd) and the
KVITT_* settings that point delivery at it. Its fixtures are made available to every test by
tests/conftest.py."""

from __future__ import annotations

import asyncio
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

from kvitt.core.config import get_settings


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
    # The client address of each received message (one per connection: a distinct peer each).
    peers: list[Any] = field(default_factory=list)
    # Message numbers (1, 2, ... counted over every DATA) at which the server drops the
    # connection instead of answering: that message is not received.
    drop_at: set[int] = field(default_factory=set)
    # Called with the count of received messages after each (e.g. to kill a client mid-batch).
    on_message: Any = None
    data_commands: int = 0
    delay: float = 0.0  # seconds before answering each DATA (a slow server)

    def connections(self) -> int:
        return len(set(self.peers))

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_commands += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.data_commands in self.drop_at:
            assert server.transport is not None
            server.transport.close()
            return "421 closing"  # never seen: the connection is gone
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        raw = envelope.original_content or b""
        self.messages.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
        if self.on_message is not None:
            self.on_message(len(self.messages))
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
