"""Where the demo's deliveries go: local sinks that exist, started inside ``kvitt run``.

- email: :class:`~kvitt.simulators.smtp_sink.SmtpSink` on a loopback port, one ``.eml`` file per
  message in a folder (``kvitt run --mail-dir``, default ``./kvitt-mail``);
- SMS: the 46elks simulator (delivery reports come back to this Kvitt's ``/callbacks/sms``);
- e-invoices: the Peppol access point simulator;
- letters: the print folder Kvitt always writes (``KVITT_PRINT_DIR``, ``./kvitt-print``);
- BankID (autogiro signed on the web invoice): the BankID RP API v6 simulator over mutual TLS, its
  test CA and certificates in ``./kvitt-bankid-certs`` (``KVITT_BANKID_*``).

:func:`start` points Kvitt's delivery settings at them (``KVITT_SMTP_*``, ``KVITT_SMS_*``,
``KVITT_PEPPOL_*`` in this process's environment, and ``get_settings`` read again), so the
worker inside ``kvitt run`` delivers for real instead of retrying against servers that are not
there; the banner names each sink, and one summary line is logged now and then while messages
arrive (not one line per message).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from kvitt.core.config import get_settings, web_base_url
from kvitt.simulators import RunningServer, checkout_demo, serve_in_thread
from kvitt.simulators.bankid import BankIDSimulator, make_certs, settings_for, tls_options
from kvitt.simulators.peppol_ap import AccessPointSimulator
from kvitt.simulators.sms_46elks import Elks46Simulator
from kvitt.simulators.smtp_sink import SmtpSink

log = structlog.get_logger("kvitt.demo")
SUMMARY_SECONDS = 15.0
SIM_USER, SIM_PASSWORD, SIM_AP_KEY = "demo", "demo-password", "demo-ap-key"


@dataclass
class DemoSinks:
    mail: SmtpSink
    sms: Elks46Simulator
    access_point: AccessPointSimulator
    print_dir: str
    servers: list[RunningServer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reported: tuple[int, int, int] = (0, 0, 0)
    bankid_url: str | None = None
    payments: list[str] = field(default_factory=list)  # the Swish and card simulators' banner lines

    def counts(self) -> tuple[int, int, int]:
        return self.mail.received, len(self.sms.sent), len(self.access_point.documents)

    def banner(self) -> list[str]:
        return (
            [
                f"Email goes to:       {self.mail.folder.resolve()}/ (an SMTP server on 127.0.0.1:{self.mail.port})",
                f"SMS go to:           the 46elks simulator on {self.servers[0].url}/a1/sms",
                f"E-invoices go to:    the Peppol access point simulator on {self.servers[1].url}/v1/documents",
                f"Letters go to:       {Path(self.print_dir).resolve()}/ (print batches)",
            ]
            + (
                [f"BankID (autogiro):   the BankID simulator on {self.bankid_url} (signs after 3 s)"]
                if self.bankid_url
                else []
            )
            + self.payments
        )

    def summary(self) -> None:
        """Log what the sinks received since the last summary, if anything."""
        counts = self.counts()
        if counts != self._reported:
            emails, sms, einvoices = counts
            log.info(
                "demo deliveries so far", emails=emails, sms=sms, einvoices=einvoices, mail_dir=str(self.mail.folder)
            )
            self._reported = counts

    def _report(self) -> None:
        while not self._stop.wait(SUMMARY_SECONDS):
            self.summary()

    def stop(self) -> None:
        self._stop.set()
        self.summary()
        for server in self.servers:
            server.stop()
        self.mail.stop()


def start(mail_dir: Path) -> DemoSinks:
    """Start the sinks and point this process's delivery settings at them."""
    mail = SmtpSink(mail_dir).start()
    sms = Elks46Simulator(users={SIM_USER: SIM_PASSWORD})
    access_point = AccessPointSimulator(keys={SIM_AP_KEY})
    servers = [serve_in_thread(sms.app()), serve_in_thread(access_point.app())]
    certs = make_certs(mail_dir.absolute().parent / "kvitt-bankid-certs")
    bankid = serve_in_thread(BankIDSimulator().app(), **tls_options(certs))
    servers.append(bankid)
    os.environ.update(settings_for(bankid.url, certs))
    payments = checkout_demo.start(mail_dir.absolute().parent / "kvitt-swish-certs", web_base_url(get_settings()))
    servers += payments.servers
    os.environ.update(payments.settings)
    os.environ.update(
        {
            "KVITT_SMTP_HOST": "127.0.0.1",
            "KVITT_SMTP_PORT": str(mail.port),
            "KVITT_SMTP_TLS": "false",
            "KVITT_SMS_URL": servers[0].url,
            "KVITT_SMS_USER": SIM_USER,
            "KVITT_SMS_PASSWORD": SIM_PASSWORD,
            "KVITT_PEPPOL_AP_URL": servers[1].url,
            "KVITT_PEPPOL_AP_KEY": SIM_AP_KEY,
        }
    )
    # Blank is unset (and wins over a .env file): no login at the sink, e-invoices to the simulator.
    os.environ.update({"KVITT_SMTP_USER": "", "KVITT_SMTP_PASSWORD": "", "KVITT_EINVOICE_DIR": ""})
    get_settings.cache_clear()
    sinks = DemoSinks(mail, sms, access_point, get_settings().print_dir, servers)
    sinks.bankid_url = get_settings().bankid_url
    sinks.payments = payments.banner()
    threading.Thread(target=sinks._report, name="kvitt-demo-summary", daemon=True).start()
    return sinks
