"""``kvitt simulate <provider>``: run a provider's simulator in the foreground (docs/bankid.md).

Each command prints the ``KVITT_*`` settings that point Kvitt at the simulator, one ``KEY=value``
per line (``eval``-able, or for ``.env``), then serves until Ctrl-C.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated

import typer

from kvitt.simulators.checkout_cli import card, swish

simulate_app = typer.Typer(
    help="Run a provider's simulator (prints the KVITT_* settings for it).", no_args_is_help=True
)
simulate_app.command("swish")(swish)
simulate_app.command("card")(card)


@simulate_app.command("bankid")
def bankid(
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 9443,
    certs: Annotated[
        Path, typer.Option(help="Folder of the test CA and certificates (made with trustme when missing).")
    ] = Path("./kvitt-bankid-certs"),
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    complete_after: Annotated[
        float, typer.Option(min=0.1, max=600, help="Seconds until an order completes or fails by itself.")
    ] = 3.0,
) -> None:
    """BankID's Relying Party API v6 over mutual TLS (the client certificate is demanded)."""
    import uvicorn

    from kvitt.simulators.bankid import BankIDSimulator, make_certs, settings_for, tls_options

    files = make_certs(certs)
    for key, value in settings_for(f"https://{host}:{port}", files).items():
        typer.echo(f"{key}={value}")
    options = tls_options(files)
    uvicorn.run(
        BankIDSimulator(complete_after=complete_after).app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ssl_certfile=options["ssl_certfile"],
        ssl_ca_certs=options["ssl_ca_certs"],
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
