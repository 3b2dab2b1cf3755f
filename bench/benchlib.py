"""Pieces the bench scripts share: ports and the SMTP ceiling (the baseline of the delivery
benches). Plain standard library, so that a script can import it before Kvitt's path is set."""

from __future__ import annotations

import smtplib
import socket
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answers on port {port}")


def smtp_ceiling(port: int, count: int) -> float:
    """Messages per second: one pre-built 1.2 KB message sent ``count`` times over one connection."""
    body = ("Hej! Din faktura finns här: https://kvitt.example/i/abcdefghijklmnop\r\n" * 16)[:1000]
    message = (
        "From: faktura@kvitt.test\r\nTo: kund@example.se\r\nSubject: Faktura 1 från Bench Telekom AB\r\n"
        "Message-ID: <bench@kvitt.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    ).encode()
    with smtplib.SMTP("127.0.0.1", port) as client:
        started = time.perf_counter()
        for _ in range(count):
            client.sendmail("faktura@kvitt.test", ["kund@example.se"], message)
        return count / (time.perf_counter() - started)
