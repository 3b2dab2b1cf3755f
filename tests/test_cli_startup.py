"""What every `kvitt` command does first (the configuration), how it fails on a database that is
down, missing or not migrated and on a path it cannot write, and `kvitt check`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from kvitt.cli import app
from kvitt.core.config import get_settings
from kvitt.core.readiness import schema_heads
from kvitt.migrations import upgrade
from tests.conftest import ENGINE, PG_HOST, PG_PORT, PG_USER
from tests.loopback import Mailbox, free_port

runner = CliRunner()
HEAD = ",".join(schema_heads())


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No KVITT_* setting from the developer's shell, no .env from the checkout."""
    for name in list(os.environ):
        if name.startswith("KVITT_") and not name.startswith("KVITT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def kvitt(*args: str, **env: str) -> Result:
    result = runner.invoke(app, list(args), env=env)
    # No traceback: the command either ended normally or exited with its own code.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def kvitt_process(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a process of its own, as a user runs it."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KVITT_") or k.startswith("KVITT_TEST_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "kvitt.cli", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


# The findings of issue 12, through the real `kvitt` process.
ISSUE_CASES = [
    (
        {"KVITT_DATABASE_URL": "garbage"},
        "error: KVITT_DATABASE_URL='garbage': not a database address; allowed: sqlite:///<file> or "
        "postgresql://<user>:<password>@<host>:<port>/<database>",
    ),
    (
        {"KVITT_EMBEDDED_WORKER": "maybe"},
        "error: KVITT_EMBEDDED_WORKER='maybe': allowed: true or false (also 1/0, yes/no, on/off)",
    ),
    ({"KVITT_PORT": "abc"}, "error: KVITT_PORT='abc': allowed: a port number from 1 to 65535"),
    ({"KVITT_LOG_LEVEL": "LOUD"}, "error: KVITT_LOG_LEVEL='LOUD': allowed: DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    (
        {"KVITT_INBOX_TIMES": "noon"},
        "error: KVITT_INBOX_TIMES='noon': 'noon' is no time of day; allowed: times as HH:MM separated by commas, "
        "e.g. 07:00,12:00,17:00",
    ),
]


@pytest.mark.parametrize(("env", "line"), ISSUE_CASES, ids=[next(iter(env)) for env, _ in ISSUE_CASES])
@pytest.mark.parametrize("command", ["jobs", "serve"])
def test_a_bad_setting_stops_every_command_with_one_line_and_exit_code_2(
    tmp_path: Path, env: dict[str, str], line: str, command: str
) -> None:
    # `serve` too: KVITT_LOG_LEVEL=LOUD used to pass every command and then kill `kvitt serve`.
    done = kvitt_process(command, cwd=tmp_path, **env)
    assert done.returncode == 2
    assert lines(done.stderr) == [line]
    assert done.stdout == "" and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["migrate"], ["worker"], ["run"], ["check"], ["keys", "list"], ["bill"]])
def test_the_configuration_is_checked_before_any_command(command: list[str]) -> None:
    result = kvitt(*command, KVITT_PORT="abc", KVITT_INBOX_TIMES="noon")
    assert result.exit_code == 2
    assert lines(result.stderr) == [
        "error: KVITT_PORT='abc': allowed: a port number from 1 to 65535",
        "error: KVITT_INBOX_TIMES='noon': 'noon' is no time of day; allowed: times as HH:MM separated by commas, "
        "e.g. 07:00,12:00,17:00",
    ]


def test_help_is_shown_whatever_the_configuration() -> None:
    assert kvitt("--help", KVITT_PORT="abc").exit_code == 0
    assert kvitt("serve", "--help", KVITT_PORT="abc").exit_code == 0


def test_an_unknown_kvitt_name_is_warned_about_and_the_command_runs(cli_env: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KVITT_SMTP_HOTS=mail.example.se\n")
    result = kvitt("jobs", KVITT_DATABASE_URL=cli_env, KVITT_DATBASE_URL="sqlite:///other.db")
    assert result.exit_code == 0, result.output
    assert lines(result.stderr) == [
        "warning: KVITT_DATBASE_URL is not a Kvitt setting and is ignored; did you mean KVITT_DATABASE_URL?",
        "warning: KVITT_SMTP_HOTS is not a Kvitt setting and is ignored; did you mean KVITT_SMTP_HOST?",
    ]
    assert "no jobs" in result.stdout


def test_postgresql_down_is_one_line_naming_it() -> None:
    port = free_port()
    result = kvitt("keys", "list", KVITT_DATABASE_URL=f"postgresql://kvitt@127.0.0.1:{port}/kvitt")
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        f"error: cannot reach PostgreSQL at 127.0.0.1:{port} (connection refused): is it running, "
        "and is KVITT_DATABASE_URL right?"
    ]


@pytest.mark.skipif(ENGINE != "postgresql", reason="needs the PostgreSQL server of KVITT_TEST_DB=postgresql")
def test_a_missing_postgresql_database_is_named_with_how_to_create_it() -> None:
    url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/kvitt_no_such_database"
    for command in (["keys", "list"], ["migrate"]):
        result = kvitt(*command, KVITT_DATABASE_URL=url)
        assert result.exit_code == 1
        assert lines(result.stderr) == [
            f'error: the database "kvitt_no_such_database" does not exist on PostgreSQL at {PG_HOST}:{PG_PORT}: '
            f"create it (createdb -h {PG_HOST} -p {PG_PORT} -U {PG_USER} kvitt_no_such_database), "
            "then run `kvitt migrate`"
        ]


def test_an_unmigrated_database_names_kvitt_migrate_and_migrate_fixes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kvitt.db"
    result = kvitt("keys", "list", KVITT_DATABASE_URL=url)
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        f"error: the database at {tmp_path}/kvitt.db has no Kvitt schema: run `kvitt migrate`"
    ]
    assert kvitt("migrate", KVITT_DATABASE_URL=url).exit_code == 0
    init = kvitt(
        "init", "--name", "A AB", "--org-number", "556036-0793", "--bankgiro", "5050-1055", KVITT_DATABASE_URL=url
    )
    assert init.exit_code == 0, init.output
    assert kvitt("keys", "list", KVITT_DATABASE_URL=url).exit_code == 0


def test_an_outdated_schema_names_both_revisions_and_kvitt_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kvitt.db"
    upgrade(url, "0005")  # before dunning (0008): its reference rates table is missing
    result = kvitt("dunning", "rates", KVITT_DATABASE_URL=url)
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        f"error: the database schema at {tmp_path}/kvitt.db is at 0005, this Kvitt needs {HEAD}: run `kvitt migrate`"
    ]
    assert kvitt("migrate", KVITT_DATABASE_URL=url).exit_code == 0
    assert kvitt("dunning", "rates", KVITT_DATABASE_URL=url).exit_code == 0


def test_a_sqlite_file_in_a_missing_folder_is_a_configuration_error(tmp_path: Path) -> None:
    result = kvitt("migrate", KVITT_DATABASE_URL=f"sqlite:///{tmp_path}/nowhere/kvitt.db")
    assert result.exit_code == 2
    assert lines(result.stderr) == [
        f"error: KVITT_DATABASE_URL='sqlite:///{tmp_path}/nowhere/kvitt.db': the folder {tmp_path}/nowhere of the "
        "SQLite file does not exist; create it or name another file"
    ]


def test_export_sie_into_a_missing_folder_is_one_line(cli_env: str, tmp_path: Path) -> None:
    kvitt(
        "init", "--name", "A AB", "--org-number", "556036-0793", "--bankgiro", "5050-1055", KVITT_DATABASE_URL=cli_env
    )
    target = tmp_path / "missing" / "out.se"
    result = kvitt(
        "export", "sie", str(target), "--from", "2026-01-01", "--to", "2026-12-31", KVITT_DATABASE_URL=cli_env
    )
    assert result.exit_code == 1
    assert lines(result.stderr) == [f"error: cannot write {target}: the folder {target.parent} does not exist"]
    assert not target.parent.exists()


def test_dunning_export_collection_into_a_missing_folder_is_one_line(cli_env: str, tmp_path: Path) -> None:
    kvitt(
        "init", "--name", "A AB", "--org-number", "556036-0793", "--bankgiro", "5050-1055", KVITT_DATABASE_URL=cli_env
    )
    target = tmp_path / "missing" / "cases.csv"
    result = kvitt("dunning", "export-collection", str(target), KVITT_DATABASE_URL=cli_env)
    assert result.exit_code == 1
    assert lines(result.stderr) == [f"error: cannot write {target}: the folder {target.parent} does not exist"]


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on loopback; ``.status`` is what it answers."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_check_prints_the_configuration_masked_and_finds_everything_reachable(
    cli_env: str, mailbox: Mailbox, tmp_path: Path, http_server: ThreadingHTTPServer
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.bgmax").write_text("x")
    url = f"http://127.0.0.1:{http_server.server_address[1]}"
    result = kvitt(
        "check",
        KVITT_DATABASE_URL=cli_env,
        KVITT_SMTP_HOST="127.0.0.1",
        KVITT_SMTP_PORT=str(mailbox.port),
        KVITT_SMTP_PASSWORD="hunter2",
        KVITT_INBOX_DIR=str(inbox),
        KVITT_SMS_USER="u123",
        KVITT_SMS_PASSWORD="elks-secret",
        KVITT_SMS_URL=url,
        KVITT_PEPPOL_AP_URL=url,
        KVITT_PRINT_DIR=str(tmp_path / "print"),
    )
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert "hunter2" not in result.output and "elks-secret" not in result.output
    assert [line.split()[:2] for line in out if line.startswith("  KVITT_SMTP_PASSWORD")] == [
        ["KVITT_SMTP_PASSWORD", "*****"]
    ]
    checks = {line.split()[1]: line.split()[0] for line in out[out.index("checks:") + 1 : -1]}
    expected = {"database": "ok", "smtp": "ok", "inbox": "ok", "sms": "ok", "peppol": "ok", "print": "ok"}
    if ENGINE == "postgresql":  # the server's own setting, whichever it is: a warning is no problem
        expected["autovacuum"] = "ok" if server_setting(cli_env, "autovacuum") == "on" else "warn"
    assert checks == expected
    assert f"  ok    inbox         {inbox} is readable (1 files), read at 07:00,12:00,17:00" in out
    assert out[-1] == "no problems found"


def test_check_says_what_is_wrong_and_exits_1(tmp_path: Path, http_server: ThreadingHTTPServer) -> None:
    http_server.status = 500  # type: ignore[attr-defined]
    smtp_port = free_port()
    url = f"http://127.0.0.1:{http_server.server_address[1]}"
    result = kvitt(
        "check",
        KVITT_DATABASE_URL=f"sqlite:///{tmp_path}/kvitt.db",
        KVITT_SMTP_HOST="127.0.0.1",
        KVITT_SMTP_PORT=str(smtp_port),
        KVITT_PEPPOL_AP_URL=url,
    )
    assert result.exit_code == 1
    out = lines(result.stdout)
    assert f"  FAIL  database      there is no database file {tmp_path}/kvitt.db yet: run `kvitt migrate`" in out
    assert (
        f"  FAIL  smtp          cannot greet 127.0.0.1:{smtp_port}: connection refused "
        "(KVITT_SMTP_HOST, KVITT_SMTP_PORT)" in out
    )
    assert f"  FAIL  peppol        {url} answered 500 (KVITT_PEPPOL_AP_URL)" in out
    assert "  skip  sms           KVITT_SMS_USER is not set: SMS deliveries cannot be sent" in out
    assert out[-1] == "3 problem(s): database, smtp, peppol"
    assert not (tmp_path / "kvitt.db").exists()  # the check created nothing


def server_setting(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        row = connection.execute("SELECT current_setting(%s)", (name,)).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize(("setting", "state"), [("on", "ok"), ("off", "warn")])
def test_check_warns_when_postgresql_runs_without_autovacuum(
    setting: str, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox and delivery tables churn with every billing day; without autovacuum the jobs
    at 100,000 invoices ran 2.4x slower (bench/RESULTS.md). A warning, not a problem: the exit
    code stays 0 (the first test above, on a server with autovacuum off)."""
    from kvitt import check
    from kvitt.core.config import Settings

    monkeypatch.setattr(check, "database_setting", lambda url, name, timeout_seconds: setting)
    finding = check.check_autovacuum(Settings(database_url="postgresql://kvitt@db.example/kvitt"), 1.0)
    assert (finding.state, finding.what) == (state, "autovacuum")
    assert ("set autovacuum = on" in finding.detail) == (state == "warn")
    lines_out = check.report(Settings(), [finding])
    assert lines_out[-1] == "no problems found"


def test_check_says_it_cannot_read_the_autovacuum_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from kvitt import check
    from kvitt.core.config import Settings

    def unreachable(url: str, name: str, timeout_seconds: int) -> str:
        raise OSError("connection refused")

    monkeypatch.setattr(check, "database_setting", unreachable)
    finding = check.check_autovacuum(Settings(database_url="postgresql://kvitt@db.example/kvitt"), 1.0)
    assert (finding.state, finding.detail) == ("FAIL", "cannot read the setting: connection refused")
