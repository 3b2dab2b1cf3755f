"""The demo (``kvitt run``) starts the BankID simulator with its sinks and points KVITT_BANKID_* at
it: a web invoice of the demo can be signed up for autogiro with BankID."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvitt.bankid.client import BankIDClient
from kvitt.core.config import get_settings
from kvitt.simulators import demo_sinks
from tests.demo_environment import demo_environment


@pytest.fixture
def restored_environment(database_url: str) -> Iterator[None]:
    with demo_environment(database_url):
        yield


def test_the_demo_runs_the_bankid_simulator_and_kvitt_signs_against_it(
    tmp_path: Path, restored_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVITT_PRINT_DIR", str(tmp_path / "print"))
    sinks = demo_sinks.start(tmp_path / "kvitt-mail")
    try:
        settings = get_settings()
        assert settings.bankid_url and settings.bankid_url.startswith("https://127.0.0.1:")
        assert Path(settings.bankid_ca or "").parent == tmp_path / "kvitt-bankid-certs"
        assert any(line.startswith("BankID (autogiro):") for line in sinks.banner())
        with BankIDClient.from_settings(settings) as client:
            order = client.sign("127.0.0.1", "Medgivande till Autogiro")
            for _ in range(200):
                collected = client.collect(order.order_ref)
                if collected.status != "pending":
                    break
                time.sleep(0.05)
        assert collected.status == "complete"
    finally:
        sinks.stop()
