"""``kvitt simulate swish`` and ``kvitt simulate card``: the payment providers' simulators.

Each prints the ``KVITT_*`` settings that point Kvitt at it, one ``KEY=value`` a line, then
serves until Ctrl-C (docs/payments.md).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated

import typer

Port = Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")]
Host = Annotated[str, typer.Option(help="The address to listen on.")]


def swish(
    port: Port = 9444,
    certs: Annotated[
        Path, typer.Option(help="Folder of the test CA and certificates (made with trustme when missing).")
    ] = Path("./kvitt-swish-certs"),
    host: Host = "127.0.0.1",
    pay_after: Annotated[
        float, typer.Option(min=0.0, max=600, help="Seconds until a payment request is paid (or fails) by itself.")
    ] = 3.0,
    payee: Annotated[str, typer.Option(help="The merchant's Swish number (KVITT_SWISH_PAYEE_ALIAS).")] = "1231181189",
) -> None:
    """The Swish Commerce API v2 over mutual TLS (payment requests, refunds, callbacks); a
    ``message`` equal to a Swish error code (RF07, BANKIDCL, FF08, TM01 ...) ends a request with it."""
    import uvicorn

    from kvitt.simulators.swish import SwishSimulator, make_certificates

    files = make_certificates(certs)
    for key, value in {
        "KVITT_SWISH_URL": f"https://{host}:{port}",
        "KVITT_SWISH_CERT": str(files.client_cert.resolve()),
        "KVITT_SWISH_KEY": str(files.client_key.resolve()),
        "KVITT_SWISH_CA": str(files.ca.resolve()),
        "KVITT_SWISH_PAYEE_ALIAS": payee,
    }.items():
        typer.echo(f"{key}={value}")
    uvicorn.run(
        SwishSimulator(pay_after=pay_after).app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ssl_certfile=str(files.server),
        ssl_ca_certs=str(files.ca),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )


def card(
    port: Port = 12111,
    webhook_url: Annotated[
        str, typer.Option(help="Where Stripe's signed webhooks go (Kvitt's /callbacks/stripe).")
    ] = "http://127.0.0.1:8000/callbacks/stripe",
    host: Host = "127.0.0.1",
) -> None:
    """The part of Stripe's API Kvitt uses (PaymentIntents, refunds, signed webhooks) and a card
    page (test card 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined)."""
    import uvicorn

    from kvitt.simulators.card import CardSimulator, settings_for

    simulator = CardSimulator(webhook_url=webhook_url)
    for key, value in settings_for(f"http://{host}:{port}", simulator).items():
        typer.echo(f"{key}={value}")
    uvicorn.run(simulator.app(), host=host, port=port, log_level="warning", access_log=False)
