"""A local SMTP server that keeps every message as an ``.eml`` file in a folder (the demo's mail).

Kvitt's email channel talks real SMTP to it (aiosmtplib), so the demo exercises the same path as
production; nothing leaves the machine. It speaks the part of SMTP (RFC 5321) a submitting
client uses: ``EHLO``/``HELO``, ``MAIL FROM``, ``RCPT TO``, ``DATA`` (with dot-unstuffing),
``RSET``, ``NOOP``, ``QUIT``; it advertises ``8BITMIME``, ``SMTPUTF8`` and ``SIZE``, no TLS and
no authentication, and listens on loopback only. Standard library only (aiosmtpd is a test
dependency, not one of Kvitt's).

Each message is written as ``<UTC time>-<n>-<first recipient>.eml`` with the envelope in
``X-Kvitt-Envelope-*`` headers in front; open one with any mail program.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

MAX_MESSAGE = 50 * 1024 * 1024
MAX_LINE = 4096  # commands (RFC 5321 §4.5.3.1.4 allows 512; be lenient)
_ADDRESS = re.compile(r"^(?:MAIL FROM|RCPT TO):\s*<([^>]*)>", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


@dataclass
class SmtpSink:
    """Start with :meth:`start` (returns once it listens), stop with :meth:`stop`."""

    folder: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, known after start()
    # Called after each message is stored (the demo uses it to log a summary now and then).
    on_message: Callable[[Path], None] | None = None
    received: int = 0
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _server: asyncio.AbstractServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> SmtpSink:
        self.folder.mkdir(parents=True, exist_ok=True)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._session, self.host, self.port, limit=MAX_LINE * 4)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to start()'s caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                self._server.close()
                loop.run_until_complete(self._server.wait_closed())
                loop.close()

        self._thread = threading.Thread(target=run, name="kvitt-smtp-sink", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- one SMTP session --------------------------------------------------------------------------

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(text: str) -> None:
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        sender: str | None = None
        recipients: list[str] = []
        try:
            await reply("220 kvitt-demo-sink ESMTP ready")
            while True:
                raw = await reader.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line[:4].upper()
                if verb == "EHLO":
                    await reply(f"250-kvitt-demo-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MAX_MESSAGE}")
                elif verb == "HELO":
                    await reply("250 kvitt-demo-sink")
                elif verb == "MAIL":
                    match = _ADDRESS.match(line)
                    if not match:
                        await reply("501 Syntax: MAIL FROM:<address>")
                        continue
                    sender, recipients = match.group(1), []
                    await reply("250 OK")
                elif verb == "RCPT":
                    match = _ADDRESS.match(line)
                    if sender is None:
                        await reply("503 MAIL first")
                    elif not match or not match.group(1):
                        await reply("501 Syntax: RCPT TO:<address>")
                    else:
                        recipients.append(match.group(1))
                        await reply("250 OK")
                elif verb == "DATA":
                    if sender is None or not recipients:
                        await reply("503 MAIL and RCPT first")
                        continue
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    body = await self._read_data(reader)
                    if body is None:
                        await reply("552 Message too large")
                    else:
                        path = self._store(sender, recipients, body)
                        await reply(f"250 OK stored as {path.name}")
                    sender, recipients = None, []
                elif verb == "RSET":
                    sender, recipients = None, []
                    await reply("250 OK")
                elif verb == "NOOP":
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    return
                else:
                    await reply("502 Command not implemented")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            writer.close()

    async def _read_data(self, reader: asyncio.StreamReader) -> bytes | None:
        lines: list[bytes] = []
        size = 0
        too_large = False
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("the client went away inside DATA")
            if line in (b".\r\n", b".\n"):
                return None if too_large else b"".join(lines)
            if line.startswith(b".."):
                line = line[1:]  # dot-unstuffing (RFC 5321 §4.5.2)
            size += len(line)
            if size > MAX_MESSAGE:
                too_large = True
                lines = []
            elif not too_large:
                lines.append(line)

    def _store(self, sender: str, recipients: list[str], body: bytes) -> Path:
        with self._lock:
            self.received += 1
            number = self.received
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{number:06d}-{_UNSAFE.sub('_', recipients[0])[:80]}.eml"
        envelope = f"X-Kvitt-Envelope-From: <{sender}>\r\n" + "".join(
            f"X-Kvitt-Envelope-To: <{r}>\r\n" for r in recipients
        )
        path = self.folder / name
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(envelope.encode() + body)
        temporary.replace(path)  # a reader never sees half a message
        if self.on_message is not None:
            self.on_message(path)
        return path


def wait_for(sink: SmtpSink, count: int, timeout: float = 10.0) -> bool:
    """True once ``sink`` holds ``count`` messages (for tests and the demo's own check)."""
    deadline = time.monotonic() + timeout
    while sink.received < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
