"""Email over SMTP: a multipart/alternative text + HTML message, PDF optional.

Messages are rendered straight to bytes (:func:`render_message`: headers and quoted-printable
parts written by hand, no ``email`` package on the hot path, which alone managed 328 messages a
second) and sent over one connection for many messages (:class:`SmtpSession`, smtplib, no event
loop); a one-off message is the same with a session of its own.

SMTP reply codes decide the outcome (RFC 5321 §4.2.1): 4xx is a transient failure (retry),
5xx a permanent one (fall back). A connection that cannot be made or times out is transient.
"""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.utils import formataddr, formatdate

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


# --- rendering -------------------------------------------------------------------------------------

CRLF = "\r\n"


def render_message(
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
    date: str | None = None,
) -> bytes:
    """A text (and HTML) message with its attachments, as bytes.

    Headers are RFC 2047 encoded when not ASCII, the text and HTML parts quoted-printable
    (7-bit clean, so no 8BITMIME is needed), attachments base64, lines end in CRLF.
    """
    boundary = "==kvitt_" + secrets.token_hex(12)
    head = [
        "From: " + from_header(sender_name, sender),
        _header("To", to),
        _header("Subject", subject),
        "Date: " + (date or formatdate(usegmt=True)),
        _header("Message-ID", message_id),
    ]
    if reply_to:
        head.append(_header("Reply-To", reply_to))
    head.append("MIME-Version: 1.0")
    body = _text_part("plain", text)
    if html is not None:
        alternative = "==kvitt_alt_" + boundary[8:]
        html_part = _text_part("html", html)
        body = (
            f'Content-Type: multipart/alternative; boundary="{alternative}"{CRLF}{CRLF}'
            f"--{alternative}{CRLF}{body}{CRLF}--{alternative}{CRLF}{html_part}{CRLF}--{alternative}--{CRLF}"
        )
    if attachments:
        parts = [body] + [_attachment_part(a) for a in attachments]
        inner = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts)
        body = f'Content-Type: multipart/mixed; boundary="{boundary}"{CRLF}{CRLF}{inner}--{boundary}--{CRLF}'
    return (CRLF.join(head) + CRLF + body).encode("ascii")


def _text_part(subtype: str, content: str) -> str:
    if not content.endswith("\n"):
        content += "\n"
    data = content.replace("\r\n", "\n").replace("\n", CRLF).encode("utf-8")
    encoded = binascii.b2a_qp(data, istext=True).decode("ascii")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}{encoded}"
    )


def _attachment_part(attachment: Attachment) -> str:
    encoded = base64.encodebytes(attachment.content).decode("ascii").replace("\n", CRLF)
    name = _parameter(attachment.filename)
    return (
        f"Content-Type: {attachment.maintype}/{attachment.subtype}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: attachment; filename={name}{CRLF}{CRLF}{encoded}"
    )


def _parameter(value: str) -> str:
    value = _one_line(value)
    if value.isascii():
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _encoded_words(value)  # what the email package writes for a non-ASCII filename too


def _one_line(value: str) -> str:
    # A header never carries a line break from data (header injection).
    return value.replace("\r", " ").replace("\n", " ")


@functools.lru_cache(maxsize=256)
def from_header(name: str | None, address: str) -> str:
    """``Name <address>``: quoted if it has specials, RFC 2047 if not ASCII (one per tenant)."""
    if not name:
        return _one_line(address)
    name = _one_line(name)
    if name.isascii():
        return _fold(formataddr((name, _one_line(address))), len("From: "))
    return f"{_encoded_words(name)} <{_one_line(address)}>"


def _header(name: str, value: str) -> str:
    value = _one_line(value)
    if value.isascii():
        return f"{name}: {_fold(value, len(name) + 2)}"
    return f"{name}: {_encoded_words(value)}"


def _fold(value: str, used: int) -> str:
    """Fold an ASCII header value at spaces so that lines stay within 78 characters."""
    if used + len(value) <= 78 or " " not in value:
        return value
    lines: list[str] = []
    line = ""
    for word in value.split(" "):
        if line and used + len(line) + 1 + len(word) > 78:
            lines.append(line)
            line, used = word, 1
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return (CRLF + " ").join(lines)


def _encoded_words(value: str) -> str:
    """RFC 2047 ``=?utf-8?b?…?=`` words of at most 72 characters, folded, split between characters."""
    words: list[str] = []
    chunk = b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 45:
            words.append(chunk.decode("utf-8"))
            chunk = b""
        chunk += encoded
    words.append(chunk.decode("utf-8"))
    return (CRLF + " ").join(
        "=?utf-8?b?" + base64.b64encode(word.encode("utf-8")).decode("ascii") + "?=" for word in words
    )


# --- one connection for many messages --------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _local_hostname() -> str:
    return socket.getfqdn()  # may ask DNS: once per process, not per connection


class SmtpSession:
    """Many messages over one SMTP connection, opened on first use.

    When the connection drops (the server closed it, a reset, a 421 reply, a timeout), the
    message is sent once more on a new connection; if that fails too, the server counts as
    unreachable for the rest of this session: every later message fails at once (temporary),
    so a batch does not wait out a timeout per message.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.connections = 0  # how many were opened (tests, benchmarks)
        self._smtp: smtplib.SMTP | None = None
        self._unreachable: str | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        config = self.config
        implicit_tls = config.tls and config.port == 465
        context = ssl.create_default_context() if config.tls else None
        smtp: smtplib.SMTP
        if implicit_tls:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, local_hostname=_local_hostname(), timeout=config.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, local_hostname=_local_hostname(), timeout=config.timeout)
        self.connections += 1
        self._smtp = smtp
        smtp.ehlo()
        if config.tls and not implicit_tls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.user:
            smtp.login(config.user, config.password or "")
        return smtp

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def send(self, sender: str, to: str, message: bytes, message_id: str) -> Sent:
        """Send one rendered message; raises Temporary/PermanentFailure."""
        if self._unreachable is not None:
            raise TemporaryFailure(self._unreachable)
        for attempt in (1, 2):
            try:
                self._connect().sendmail(sender, [to], message)
                return Sent(provider_ref=message_id)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                detail = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
                if 421 in codes:
                    error: BaseException = exc  # the server is closing the connection
                elif codes and all(code >= 500 for code in codes):
                    raise PermanentFailure(f"recipient refused: {detail}") from exc
                else:
                    raise TemporaryFailure(f"recipient deferred: {detail}") from exc
            except (smtplib.SMTPNotSupportedError, UnicodeEncodeError) as exc:
                # A non-ASCII address to a server without SMTPUTF8: this message, not the connection
                # (whose half-begun mail transaction is reset).
                self._reset()
                raise PermanentFailure(f"cannot send to {to!r}: {exc}") from exc
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421 or self._smtp is None or self._smtp.sock is None:
                    error = exc
                elif exc.smtp_code >= 500:
                    raise PermanentFailure(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}") from exc
                else:
                    raise TemporaryFailure(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}") from exc
            except (smtplib.SMTPException, OSError) as exc:  # disconnected, reset, timed out, refused
                error = exc
            self._drop()
            if attempt == 2:
                self._unreachable = f"SMTP server {self.config.host}:{self.config.port} unreachable: {error}"
                raise TemporaryFailure(self._unreachable) from error
        raise AssertionError("unreachable")  # pragma: no cover


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
