"""BankID settings refuse bad values in one line each; the animated QR code and the autostart link."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from kvitt.bankid.client import BankIDClient, BankIDNotConfigured
from kvitt.bankid.qr import autostart_url, qr_data, seconds_since
from kvitt.core.config import Settings, problems_of
from kvitt.simulators.bankid import make_certs


def _problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        Settings(_env_file=None)  # type: ignore[call-arg]
    except ValidationError as exc:
        return problems_of(exc)
    return []


def test_bad_bankid_settings_are_one_line_each(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "not-a-cert.pem").write_text("hello\n")
    encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n-----END ENCRYPTED PRIVATE KEY-----\n"
    (tmp_path / "enc.key").write_text(encrypted)
    problems = _problems(
        monkeypatch,
        KVITT_BANKID_URL="http://appapi2.test.bankid.com/rp/v6.0",
        KVITT_BANKID_CERT=str(tmp_path / "missing.pem"),
        KVITT_BANKID_CA=str(tmp_path / "not-a-cert.pem"),
        KVITT_BANKID_KEY=str(tmp_path / "enc.key"),
    )
    assert len(problems) == 4 and all("\n" not in line for line in problems)
    by_name = {line.split("=", 1)[0]: line for line in problems}
    assert "allowed: an https:// address" in by_name["KVITT_BANKID_URL"]
    assert "no such file; allowed: a PEM certificate file" in by_name["KVITT_BANKID_CERT"]
    assert "no certificate in it" in by_name["KVITT_BANKID_CA"]
    assert "no private key in it; allowed: a PEM private key file (unencrypted)" in by_name["KVITT_BANKID_KEY"]


def test_good_bankid_settings_are_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files = make_certs(tmp_path)
    env = {
        "KVITT_BANKID_URL": "https://127.0.0.1:9443/rp/v6.0/",
        "KVITT_BANKID_CERT": str(files.client_cert),
        "KVITT_BANKID_KEY": str(files.client_key),
        "KVITT_BANKID_CA": str(files.ca),
    }
    assert _problems(monkeypatch, **env) == []
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.bankid_url == "https://127.0.0.1:9443/rp/v6.0"
    BankIDClient.from_settings(settings).close()


def test_a_client_without_settings_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KVITT_BANKID_URL", "KVITT_BANKID_CERT", "KVITT_BANKID_KEY", "KVITT_BANKID_CA"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BankIDNotConfigured, match="set KVITT_BANKID_URL, KVITT_BANKID_CERT, KVITT_BANKID_CA"):
        BankIDClient.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    one, other = make_certs(tmp_path / "one"), make_certs(tmp_path / "other")
    from kvitt.bankid.client import tls_context

    with pytest.raises(BankIDNotConfigured, match="do not belong together"):
        tls_context(str(one.ca), str(one.client_cert), str(other.client_key))


def test_qr_data_is_bankid_token_seconds_and_hmac_of_the_seconds() -> None:
    secret = "d28db9a7-4cde-429e-a983-359be676944c"
    expected = hmac.new(secret.encode(), b"7", hashlib.sha256).hexdigest()
    assert qr_data("67df3917-fa0d-44e5-b327-edcc928297f8", secret, 7) == (
        f"bankid.67df3917-fa0d-44e5-b327-edcc928297f8.7.{expected}"
    )
    assert qr_data("t", secret, 0) != qr_data("t", secret, 1)
    with pytest.raises(ValueError):
        qr_data("t", secret, -1)


def test_qr_code_from_bankids_documentation() -> None:
    # BankID's integration guide: qrStartSecret d28db9a7-4cde-429e-a983-359be676944c, time 0
    assert qr_data("67df3917-fa0d-44e5-b327-edcc928297f8", "d28db9a7-4cde-429e-a983-359be676944c", 0).endswith(
        ".0.dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8"
    )


def test_seconds_since_start_are_whole_and_never_negative() -> None:
    start = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)
    assert seconds_since(start, start + timedelta(seconds=2.9)) == 2
    assert seconds_since(start, start - timedelta(seconds=1)) == 0


def test_autostart_link_opens_the_app_with_the_token() -> None:
    url = autostart_url("46f6a96c-b5dd-4d0d-a1e4-6a1e8e4e5c1e")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "app.bankid.com")
    assert parse_qs(parts.query) == {"autostarttoken": ["46f6a96c-b5dd-4d0d-a1e4-6a1e8e4e5c1e"], "redirect": ["null"]}
