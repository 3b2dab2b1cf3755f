"""The quiet, honest demo (issue 12): `kvitt run` delivers to local sinks that exist, so the log
shows what happened instead of retries, and repeated warnings are collapsed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import structlog

from kvitt.core.config import Settings, get_settings
from kvitt.core.db import Database
from kvitt.core.log_quiet import Repeats, RepeatsFilter
from kvitt.core.logging import configure_logging
from kvitt.simulators import demo_sinks
from kvitt.simulators.smtp_sink import SmtpSink
from tests.conftest import Api
from tests.delivery.conftest import customer, deliveries, drain, issue
from tests.demo_environment import demo_environment

# --- the SMTP sink --------------------------------------------------------------------------------


def _run_alone(make: Any) -> Any:
    """asyncio.run in a thread of its own: an event loop another test left running in this
    thread (xdist runs many tests in one process) must not matter."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _send(port: int, message: EmailMessage) -> Any:
    return _run_alone(lambda: aiosmtplib.send(message, hostname="127.0.0.1", port=port, start_tls=False, timeout=10))


def test_the_smtp_sink_keeps_each_message_as_an_eml_file(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "faktura@norrsken.example.com"
    message["To"] = "åsa@example.se"
    message["Subject"] = "Faktura 1042 från Norrsken"
    # A line that starts with a dot must come back with one dot (dot-stuffing both ways).
    message.set_content("Hej Åsa!\n.hidden line\n..two dots\nAtt betala: 395,00 kr\n")
    with SmtpSink(tmp_path / "mail") as sink:
        _send(sink.port, message)
        _send(sink.port, message)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2 == sink.received
    stored = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert stored["X-Kvitt-Envelope-To"] == "<åsa@example.se>"
    assert stored["Subject"] == "Faktura 1042 från Norrsken"
    body = stored.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert body.replace("\r\n", "\n") == "Hej Åsa!\n.hidden line\n..two dots\nAtt betala: 395,00 kr\n"
    assert not list((tmp_path / "mail").glob("*.tmp"))


def test_the_smtp_sink_refuses_commands_out_of_order(tmp_path: Path) -> None:
    async def talk(port: int) -> list[int]:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=10)
        await client.connect()
        codes = [(await client.ehlo()).code]
        codes.append((await client.execute_command(b"RCPT", b"TO:<a@example.se>")).code)
        codes.append((await client.execute_command(b"DATA")).code)
        codes.append((await client.execute_command(b"VRFY", b"x")).code)
        codes.append((await client.mail("a@example.se")).code)
        codes.append((await client.rset()).code)
        await client.quit()
        return codes

    with SmtpSink(tmp_path) as sink:
        assert _run_alone(lambda: talk(sink.port)) == [250, 503, 503, 502, 250, 250]
    assert sink.received == 0


# --- the demo's sinks -----------------------------------------------------------------------------


@pytest.fixture
def restored_environment(database_url: str) -> Iterator[None]:
    with demo_environment(database_url, KVITT_PUBLIC_URL="https://kvitt.test"):
        yield


def test_demo_deliveries_reach_the_sinks_and_fail_nothing(
    api: Api, db: Database, tmp_path: Path, restored_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVITT_PRINT_DIR", str(tmp_path / "print"))
    sinks = demo_sinks.start(tmp_path / "kvitt-mail")
    try:
        settings = get_settings()
        assert (settings.smtp_host, settings.smtp_port) == ("127.0.0.1", sinks.mail.port)
        assert settings.sms_url == sinks.servers[0].url and settings.peppol_ap_url == sinks.servers[1].url
        banner = "\n".join(sinks.banner())
        assert str((tmp_path / "kvitt-mail").resolve()) in banner and sinks.servers[0].url in banner

        email = customer(api, "1", email="astrid@example.com", delivery_method="email")
        sms = customer(api, "2", phone="+46701740606", delivery_method="sms")
        company = customer(
            api, "3", type="company", name="Lindqvist Bygg AB", id_number="556036-0793", delivery_method="einvoice"
        )
        invoices = [issue(api, c["id"]) for c in (email, sms, company)]
        drain(db)
        outcomes = [[(d["channel"], d["state"], d["error"]) for d in deliveries(api, i["id"])] for i in invoices]
    finally:
        sinks.stop()
    assert outcomes == [
        [("email", "sent", None)],
        # The 46elks simulator's delivery report goes to KVITT_PUBLIC_URL, which no server
        # answers in this test (in `kvitt run` it is Kvitt itself, and the SMS becomes delivered).
        [("sms", "sent", None)],
        [("einvoice", "delivered", None)],
    ]
    (eml,) = (tmp_path / "kvitt-mail").glob("*.eml")
    assert "astrid@example.com" in eml.name
    assert [m["to"] for m in sinks.sms.sent] == ["+46701740606"]
    assert len(sinks.access_point.documents) == 1
    assert sinks.counts() == (1, 1, 1)


# --- repeated warnings collapsed ------------------------------------------------------------------


def test_repeats_are_collapsed_per_event_and_window() -> None:
    now = [0.0]
    repeats = Repeats(first=3, window=60, clock=lambda: now[0])
    key = ("kvitt.worker", "warning", "job failed, will retry")
    assert [repeats.admit(key) for _ in range(5)] == [(True, 0)] * 3 + [(False, 0)] * 2
    assert repeats.admit(("kvitt.worker", "warning", "something else")) == (True, 0)
    now[0] = 61.0
    assert repeats.admit(key) == (True, 2)  # the first after the window says how many were left out
    assert repeats.admit(key) == (True, 0)


def test_a_flood_of_one_warning_is_three_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(database_url="sqlite://"))
    log = structlog.get_logger("kvitt.test")
    for job in range(500):
        log.warning("job failed, will retry", job=job)
        log.info("job done", job=job)  # information is never collapsed
    out = capsys.readouterr().out
    assert out.count("job failed, will retry") == 3
    assert out.count("job done") == 500


def test_standard_library_warnings_are_collapsed_too() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    now = [0.0]
    handler = Keep()
    handler.addFilter(RepeatsFilter(Repeats(first=2, window=10, clock=lambda: now[0])))
    logger = logging.getLogger("kvitt.test.stdlib")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for n in range(50):
            logger.warning("connection to %s refused", f"host{n}")
        logger.info("fine")
        now[0] = 11.0
        logger.warning("connection to %s refused", "host-last")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert [r.getMessage() for r in records] == [
        "connection to host0 refused",
        "connection to host1 refused",
        "fine",
        "connection to host-last refused (and 48 more like it left out)",
    ]


def test_httpx_request_lines_are_muted(restored_environment: None) -> None:
    configure_logging(get_settings())
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("fontTools.subset").getEffectiveLevel() >= logging.WARNING
