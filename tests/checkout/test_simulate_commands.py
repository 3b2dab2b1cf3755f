"""``kvitt simulate swish`` and ``kvitt simulate card`` as real processes: the settings they
print point Kvitt's own clients at them."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import stripe

from kvitt.checkout.swish import READ_PAYMENT_REQUESTS, tls_context
from tests.loopback import free_port

KVITT = str(Path(sys.executable).with_name("kvitt"))


@contextmanager
def simulator(*args: str, lines: int) -> Iterator[dict[str, str]]:
    process = subprocess.Popen([KVITT, "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline().strip() for _ in range(lines)]
        settings = dict(line.split("=", 1) for line in printed)
        yield settings
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_until_listening(url: str, verify: object = True) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url, verify=verify)  # type: ignore[arg-type]
            return
        except httpx.HTTPError:
            time.sleep(0.1)


def test_simulate_swish_prints_settings_that_reach_it_over_mutual_tls(tmp_path: Path) -> None:
    port = free_port()
    with simulator(
        "swish", "--port", str(port), "--certs", str(tmp_path / "certs"), "--pay-after", "0.2", lines=5
    ) as env:
        assert set(env) == {
            "KVITT_SWISH_URL",
            "KVITT_SWISH_CERT",
            "KVITT_SWISH_KEY",
            "KVITT_SWISH_CA",
            "KVITT_SWISH_PAYEE_ALIAS",
        }
        assert env["KVITT_SWISH_URL"] == f"https://127.0.0.1:{port}"
        context = tls_context(env["KVITT_SWISH_CERT"], env["KVITT_SWISH_KEY"], env["KVITT_SWISH_CA"])
        ident = uuid.uuid4().hex.upper()
        body = {
            "payeePaymentReference": "298463",
            "callbackUrl": "http://127.0.0.1:9/cb",
            "payerAlias": "46701234567",
            "payeeAlias": env["KVITT_SWISH_PAYEE_ALIAS"],
            "amount": "431.00",
            "currency": "SEK",
            "message": "Faktura 1",
        }
        deadline = time.monotonic() + 20
        while True:
            try:
                with httpx.Client(base_url=env["KVITT_SWISH_URL"], verify=context) as client:
                    made = client.put(f"/swish-cpcapi/api/v2/paymentrequests/{ident}", json=body)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert made.status_code == 201
        with httpx.Client(base_url=env["KVITT_SWISH_URL"], verify=context) as client:
            deadline = time.monotonic() + 20
            while client.get(READ_PAYMENT_REQUESTS + ident).json()["status"] != "PAID":
                assert time.monotonic() < deadline
                time.sleep(0.1)


def test_simulate_card_prints_settings_the_stripe_client_uses(tmp_path: Path) -> None:
    port = free_port()
    with simulator("card", "--port", str(port), "--webhook-url", "http://127.0.0.1:9/callbacks/stripe", lines=4) as env:
        assert set(env) == {
            "KVITT_STRIPE_API_BASE",
            "KVITT_STRIPE_SECRET_KEY",
            "KVITT_STRIPE_WEBHOOK_SECRET",
            "KVITT_STRIPE_CARD_PAGE",
        }
        wait_until_listening(env["KVITT_STRIPE_API_BASE"] + "/pay/x")
        client = stripe.StripeClient(
            env["KVITT_STRIPE_SECRET_KEY"], base_addresses={"api": env["KVITT_STRIPE_API_BASE"]}, max_network_retries=0
        )
        intent = client.v1.payment_intents.create({"amount": 43100, "currency": "sek"})
        page = httpx.get(f"{env['KVITT_STRIPE_CARD_PAGE']}/{intent.id}")
    assert intent.status == "requires_payment_method" and page.status_code == 200
