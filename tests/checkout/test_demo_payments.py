"""`kvitt run` starts the Swish and card simulators with the other demo sinks and points Kvitt at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kvitt.checkout.card import CardClient
from kvitt.checkout.providers import ProviderRefused
from kvitt.checkout.swish import SwishClient
from kvitt.core.config import get_settings
from kvitt.simulators import demo_sinks
from kvitt.tenants.models import Tenant
from kvitt.web.pay_links import methods_for
from tests.demo_environment import demo_environment


@pytest.fixture
def restored_environment(database_url: str) -> Iterator[None]:
    with demo_environment(database_url):
        yield


def test_the_demo_offers_swish_and_card_against_its_simulators(
    tmp_path: Path, restored_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVITT_PRINT_DIR", str(tmp_path / "print"))
    sinks = demo_sinks.start(tmp_path / "kvitt-mail")
    try:
        settings = get_settings()
        banner = "\n".join(sinks.banner())
        assert "Swish payments:" in banner and "Card payments:" in banner and "4242 4242 4242 4242" in banner
        assert settings.swish_url.startswith("https://127.0.0.1:") and settings.swish_cert
        assert (tmp_path / "kvitt-swish-certs" / "ca.pem").exists()
        assert settings.stripe_card_page and settings.stripe_webhook_secret
        assert methods_for(Tenant(swish_number="1231181189")) == ["swish", "card"]
        # Kvitt's own clients reach both (Swish over mutual TLS with the demo's certificates).
        swish = SwishClient.from_settings()
        with pytest.raises(ProviderRefused) as unknown:
            swish.fetch_refund(type("R", (), {"provider_reference": "0" * 32})())  # type: ignore[arg-type]
        assert unknown.value.code == "NOT_FOUND"
        swish.close()
        card = CardClient.from_settings()
        with pytest.raises(ProviderRefused) as missing:
            card.fetch(type("P", (), {"provider_reference": "pi_missing"})())  # type: ignore[arg-type]
        assert missing.value.code == "resource_missing"
    finally:
        sinks.stop()
