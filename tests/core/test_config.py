"""Settings: each bad KVITT_* value is refused with one line naming the variable, the value and
what is allowed; unknown KVITT_* names are found with the closest setting."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from kvitt.core.config import Settings, effective, inbox_slots, mask_url, problems_of, unknown_names


def problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    for name in list(__import__("os").environ):
        if name.startswith("KVITT_") and not name.startswith("KVITT_TEST_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        Settings(_env_file=None)  # type: ignore[call-arg]
    except ValidationError as exc:
        return problems_of(exc)
    return []


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        (
            "KVITT_DATABASE_URL",
            "garbage",
            "KVITT_DATABASE_URL='garbage': not a database address; allowed: sqlite:///<file> or "
            "postgresql://<user>:<password>@<host>:<port>/<database>",
        ),
        (
            "KVITT_EMBEDDED_WORKER",
            "maybe",
            "KVITT_EMBEDDED_WORKER='maybe': allowed: true or false (also 1/0, yes/no, on/off)",
        ),
        ("KVITT_PORT", "abc", "KVITT_PORT='abc': allowed: a port number from 1 to 65535"),
        ("KVITT_PORT", "70000", "KVITT_PORT='70000': allowed: a port number from 1 to 65535"),
        ("KVITT_LOG_LEVEL", "LOUD", "KVITT_LOG_LEVEL='LOUD': allowed: DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        (
            "KVITT_INBOX_TIMES",
            "noon",
            "KVITT_INBOX_TIMES='noon': 'noon' is no time of day; allowed: times as HH:MM separated by commas, "
            "e.g. 07:00,12:00,17:00",
        ),
        (
            "KVITT_INBOX_TIMES",
            "07:00,25:00",
            "KVITT_INBOX_TIMES='07:00,25:00': '25:00' is no time of day; allowed: times as HH:MM separated by "
            "commas, e.g. 07:00,12:00,17:00",
        ),
        (
            "KVITT_WORKER_POLL_SECONDS",
            "0",
            "KVITT_WORKER_POLL_SECONDS='0': allowed: a number of seconds above 0, e.g. 1 or 0.5",
        ),
        ("KVITT_WORKER_BATCH_SIZE", "-1", "KVITT_WORKER_BATCH_SIZE='-1': allowed: a whole number from 1 to 10000"),
        ("KVITT_JOB_MAX_ATTEMPTS", "0", "KVITT_JOB_MAX_ATTEMPTS='0': allowed: a whole number from 1 to 100"),
        ("KVITT_SMTP_PORT", "smtp", "KVITT_SMTP_PORT='smtp': allowed: a port number from 1 to 65535"),
        (
            "KVITT_SMS_URL",
            "api.46elks.com",
            "KVITT_SMS_URL='api.46elks.com': allowed: an http:// or https:// address with a host, e.g. https://api.example.se",
        ),
        (
            "KVITT_PUBLIC_URL",
            "faktura.example.se",
            "KVITT_PUBLIC_URL='faktura.example.se': allowed: an http:// or https:// address with a host, e.g. https://api.example.se",
        ),
        (
            "KVITT_HOST",
            "http://0.0.0.0",
            "KVITT_HOST='http://0.0.0.0': allowed: a host name or IP address, e.g. 127.0.0.1 or mail.example.se (no http://)",
        ),
        ("KVITT_MAIL_FROM", "faktura", "KVITT_MAIL_FROM='faktura': allowed: an email address, e.g. faktura@example.se"),
        (
            "KVITT_SMS_FROM",
            "Norrsken Telekom",
            "KVITT_SMS_FROM='Norrsken Telekom': allowed: 3-11 letters and digits starting with a letter, "
            "or a phone number",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_the_value_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    assert problems(monkeypatch, **{name: value}) == [line]


def test_every_bad_value_is_reported_not_only_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = problems(monkeypatch, KVITT_PORT="abc", KVITT_LOG_LEVEL="LOUD", KVITT_EMBEDDED_WORKER="maybe")
    assert [line.split("=")[0] for line in lines] == ["KVITT_PORT", "KVITT_EMBEDDED_WORKER", "KVITT_LOG_LEVEL"]


def test_database_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert problems(monkeypatch, KVITT_DATABASE_URL=f"sqlite:///{tmp_path}/kvitt.db") == []
    assert problems(monkeypatch, KVITT_DATABASE_URL="postgresql://kvitt:secret@db.internal:5432/kvitt") == []
    assert problems(monkeypatch, KVITT_DATABASE_URL="postgresql+psycopg://kvitt@localhost/kvitt") == []
    missing = problems(monkeypatch, KVITT_DATABASE_URL=f"sqlite:///{tmp_path}/nowhere/kvitt.db")
    assert missing == [
        f"KVITT_DATABASE_URL='sqlite:///{tmp_path}/nowhere/kvitt.db': the folder {tmp_path}/nowhere of the "
        "SQLite file does not exist; create it or name another file"
    ]
    assert problems(monkeypatch, KVITT_DATABASE_URL="postgres://u:p@h/db")[0].startswith(
        "KVITT_DATABASE_URL='postgres://u:*****@h/db': write postgresql:// instead of postgres://"
    )
    assert "'mysql'" in problems(monkeypatch, KVITT_DATABASE_URL="mysql://u@h/db")[0]
    # The password in a refused URL is not printed.
    line = problems(monkeypatch, KVITT_DATABASE_URL="postgresql://u:hunter2@h:port/db")[0]
    assert "hunter2" not in line and "KVITT_DATABASE_URL='postgresql://u:*****@h:port/db'" in line


def test_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert problems(monkeypatch, KVITT_INBOX_DIR=str(tmp_path / "nope")) == [
        f"KVITT_INBOX_DIR='{tmp_path}/nope': no such folder; "
        "allowed: an existing folder the bank files are dropped into"
    ]
    assert problems(monkeypatch, KVITT_INBOX_DIR=str(a_file))[0].startswith("KVITT_INBOX_DIR=")
    assert problems(monkeypatch, KVITT_BILLING_MAPPINGS_DIR=str(tmp_path / "nope")) == [
        f"KVITT_BILLING_MAPPINGS_DIR='{tmp_path}/nope': no such folder; "
        "allowed: an existing folder of <name>.toml mappings"
    ]
    assert problems(monkeypatch, KVITT_PRINT_DIR=str(a_file)) == [
        f"KVITT_PRINT_DIR='{a_file}': this is a file; allowed: a folder"
    ]
    assert problems(monkeypatch, KVITT_EINVOICE_DIR=str(a_file / "sub")) == [
        f"KVITT_EINVOICE_DIR='{a_file}/sub': allowed: a folder Kvitt can create, but {a_file} is not a writable folder"
    ]
    # Folders Kvitt writes into may be created later; folders it reads must exist.
    assert problems(monkeypatch, KVITT_PRINT_DIR=str(tmp_path / "print" / "later"), KVITT_INBOX_DIR=str(tmp_path)) == []


def test_good_values_are_normalised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KVITT_LOG_LEVEL", "debug")
    monkeypatch.setenv("KVITT_PUBLIC_URL", "https://faktura.example.se/")
    monkeypatch.setenv("KVITT_SMTP_USER", "")
    monkeypatch.setenv("KVITT_EMBEDDED_WORKER", "no")
    monkeypatch.setenv("KVITT_INBOX_TIMES", "17:00, 07:00")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.log_level == "DEBUG"
    assert settings.public_url == "https://faktura.example.se"
    assert settings.smtp_user is None
    assert settings.embedded_worker is False
    assert inbox_slots(settings) == [time(7), time(17)]


def test_unknown_names_are_warned_about_with_the_closest_setting(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KVITT_SMTP_HOTS=mail.example.se\nKVITT_PORT=8000\nOTHER=1\n")
    environ = {
        "KVITT_DATBASE_URL": "sqlite:///x.db",
        "KVITT_DATABASE_URL": "sqlite:///x.db",
        "KVITT_TEST_DB": "postgresql",  # the test suite's own
        "KVITT_FROBNICATE": "1",
        "PATH": "/usr/bin",
    }
    assert unknown_names(environ, env_file) == [
        "KVITT_DATBASE_URL is not a Kvitt setting and is ignored; did you mean KVITT_DATABASE_URL?",
        "KVITT_FROBNICATE is not a Kvitt setting and is ignored; see .env.example for the settings",
        "KVITT_SMTP_HOTS is not a Kvitt setting and is ignored; did you mean KVITT_SMTP_HOST?",
    ]
    assert unknown_names({"KVITT_PORT": "1"}, tmp_path / "absent") == []


def test_effective_configuration_masks_secrets() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://kvitt:s3cret@db:5432/kvitt",
        smtp_password="hunter2",
        sms_password="elks-secret",
        peppol_ap_key="ap-key",
    )
    shown = dict(effective(settings))
    assert shown["KVITT_DATABASE_URL"] == "postgresql://kvitt:*****@db:5432/kvitt"
    assert shown["KVITT_SMTP_PASSWORD"] == shown["KVITT_SMS_PASSWORD"] == shown["KVITT_PEPPOL_AP_KEY"] == "*****"
    assert shown["KVITT_SMTP_USER"] == "(unset)"
    assert shown["KVITT_EMBEDDED_WORKER"] == "true"
    assert not any(secret in " ".join(shown.values()) for secret in ("s3cret", "hunter2", "elks-secret", "ap-key"))
    assert mask_url("sqlite:///./kvitt.db") == "sqlite:///./kvitt.db"
