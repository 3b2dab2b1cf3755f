"""Email over SMTP (aiosmtplib): a multipart/alternative text + HTML message, PDF optional.

SMTP reply codes decide the outcome (RFC 5321 §4.2.1): 4xx is a transient failure (retry),
5xx a permanent one (fall back). A connection that cannot be made or times out is transient.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

import aiosmtplib

from kvitt.delivery.channels import PermanentFailure, Sent, TemporaryFailure


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    tls: bool = False  # STARTTLS; on port 465 implicit TLS
    timeout: float = 30.0


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def build_message(
    *,
    sender: str,
    sender_name: str | None,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    attachments: list[Attachment] | None = None,
    reply_to: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # A stable Message-ID: a message repeated after a worker crash is the same message to the
    # receiving side, which can drop the copy (see docs/delivery.md, at least once).
    message["Message-ID"] = message_id
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments or []:
        message.add_attachment(
            attachment.content, maintype=attachment.maintype, subtype=attachment.subtype, filename=attachment.filename
        )
    return message


def send(config: SmtpConfig, message: EmailMessage) -> Sent:
    """Hand the message to the SMTP server; raises Temporary/PermanentFailure."""
    try:
        _run_async(lambda: _send(config, message))
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        detail = "; ".join(f"{e.code} {e.message}" for e in exc.recipients)
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(f"recipient refused: {detail}") from exc
        raise TemporaryFailure(f"recipient deferred: {detail}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentFailure(f"SMTP {exc.code} {exc.message}") from exc
        raise TemporaryFailure(f"SMTP {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TemporaryFailure(f"SMTP server {config.host}:{config.port} unreachable: {exc}") from exc
    return Sent(provider_ref=str(message["Message-ID"]))


def _run_async(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the coroutine to the end, also when this thread already runs an event loop (a job
    run from an async request handler, e.g. the test clock): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(make())
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


async def _send(config: SmtpConfig, message: EmailMessage) -> None:
    implicit_tls = config.tls and config.port == 465
    await aiosmtplib.send(
        message,
        hostname=config.host,
        port=config.port,
        username=config.user,
        password=config.password,
        use_tls=implicit_tls,
        start_tls=config.tls and not implicit_tls,
        timeout=config.timeout,
    )
