"""The demo's payment providers: the Swish and card simulators started inside ``kvitt run``.

Swish runs over mutual TLS with its test CA and certificates in ``./kvitt-swish-certs``; the
card simulator sends its signed webhooks to this Kvitt's ``/callbacks/stripe``. The settings
that point Kvitt at them (``KVITT_SWISH_*``, ``KVITT_STRIPE_*``) are returned for the process's
environment, so a newcomer pays a demo invoice by Swish (it pays itself after a few seconds, as
Swish's own test simulator does) and by card with the test card 4242 4242 4242 4242.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kvitt.simulators import RunningServer, serve_in_thread
from kvitt.simulators.card import CardSimulator
from kvitt.simulators.card import settings_for as card_settings
from kvitt.simulators.swish import SwishSimulator, make_certificates, serve_tls
from kvitt.simulators.swish import settings_for as swish_settings

PAY_AFTER_SECONDS = 4.0


@dataclass
class PaymentProviders:
    settings: dict[str, str]
    servers: list[RunningServer] = field(default_factory=list)

    def banner(self) -> list[str]:
        swish, card = self.servers
        return [
            f"Swish payments:      the Swish simulator on {swish.url} (pays by itself after {PAY_AFTER_SECONDS:.0f} s)",
            f"Card payments:       the card simulator on {card.url}/pay (test card 4242 4242 4242 4242)",
        ]


def start(cert_dir: Path, kvitt_url: str) -> PaymentProviders:
    certs = make_certificates(cert_dir)
    swish = serve_tls(SwishSimulator(pay_after=PAY_AFTER_SECONDS).app(), certs)
    card = CardSimulator(webhook_url=f"{kvitt_url.rstrip('/')}/callbacks/stripe")
    card_server = serve_in_thread(card.app())
    settings = {**swish_settings(swish, certs), **card_settings(card_server.url, card)}
    return PaymentProviders(settings, [swish, card_server])
