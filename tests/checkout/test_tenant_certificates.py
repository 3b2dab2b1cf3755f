"""A tenant's own Swish certificate (KVITT_SWISH_CERTS_DIR/<organisation number>/) is used for its
requests; a tenant without one uses the installation's (KVITT_SWISH_CERT/KEY/CA)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kvitt.checkout.swish import credentials_for
from kvitt.core.config import get_settings
from kvitt.simulators.swish import make_certificates
from kvitt.tenants.models import Tenant
from tests.checkout.conftest import Shop


def test_the_tenants_own_certificate_is_presented_to_swish(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = make_certificates(tmp_path / "stranger")  # a CA the Swish simulator does not trust
    own = tmp_path / "tenants" / "5560360793"
    own.mkdir(parents=True)
    shutil.copy(shop.swish.certs.client_cert, own / "client.pem")
    shutil.copy(shop.swish.certs.client_key, own / "client.key")
    monkeypatch.setenv("KVITT_SWISH_CERT", str(stranger.client_cert))
    monkeypatch.setenv("KVITT_SWISH_KEY", str(stranger.client_key))
    monkeypatch.setenv("KVITT_SWISH_CERTS_DIR", str(tmp_path / "tenants"))
    get_settings.cache_clear()

    mine = credentials_for(Tenant(org_number="556036-0793"))
    assert (mine.cert, mine.key) == (str(own / "client.pem"), str(own / "client.key"))
    assert mine.ca == str(shop.swish.certs.ca)  # the installation's CA: the tenant has none of its own
    other = credentials_for(Tenant(org_number="556016-0680"))
    assert (other.cert, other.key) == (str(stranger.client_cert), str(stranger.client_key))

    invoice = shop.issued_invoice()
    made = shop.api.post(
        f"/invoices/{invoice['id']}/payment-requests", json={"method": "swish", "payer_alias": "46701234567"}
    )
    assert made.status_code == 201, made.text
    shop.drain(lambda: shop.request(made.json()["id"])["state"] == "paid")
