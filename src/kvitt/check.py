"""``kvitt check``: the effective configuration, and whether what it names can be reached.

Each probe has a short timeout and changes nothing: the database is connected to and its schema
revision read (never created or migrated), the SMTP server is greeted (EHLO, no login, no mail),
the inbox folder listed, the SMS provider and the Peppol access point asked for their address.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx

from kvitt.core.config import Settings, effective
from kvitt.core.readiness import database_setting, database_status

OK, FAIL, SKIP, WARN = "ok", "FAIL", "skip", "warn"  # warn: works, but not as it should in production
TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Finding:
    state: str  # ok, FAIL, skip (not configured; nothing to test) or warn (not counted as a problem)
    what: str
    detail: str


def run_checks(settings: Settings, timeout: float = TIMEOUT_SECONDS) -> list[Finding]:
    database = check_database(settings, timeout)
    upkeep = [check_autovacuum(settings, timeout)] if database.state == OK and _is_postgresql(settings) else []
    return [
        database,
        *upkeep,
        check_smtp(settings, timeout),
        check_inbox(settings),
        check_sms(settings, timeout),
        check_peppol(settings, timeout),
        check_folder("print folder", settings.print_dir, "KVITT_PRINT_DIR"),
    ]


def check_database(settings: Settings, timeout: float) -> Finding:
    status = database_status(settings.database_url, timeout_seconds=max(1, int(timeout)))
    return Finding(OK if status.ready else FAIL, "database", status.message)


def check_autovacuum(settings: Settings, timeout: float) -> Finding:
    """PostgreSQL's autovacuum: the outbox, deliveries and webhook deliveries are rewritten by every
    billing day, and without vacuuming their dead row versions pile up under the claims and
    updates (at 100,000 invoices the jobs ran at 133/s with it off and 323/s with the tables
    vacuumed as autovacuum would, bench/RESULTS.md)."""
    try:
        setting = database_setting(settings.database_url, "autovacuum", timeout_seconds=max(1, int(timeout)))
    except OSError as exc:
        return Finding(FAIL, "autovacuum", f"cannot read the setting: {_reason(exc)}")
    if setting == "on":
        return Finding(OK, "autovacuum", "on")
    return Finding(
        WARN,
        "autovacuum",
        f"is {setting}: the outbox and delivery tables churn with every billing day and slow down "
        'without it (docs/operations.md, "PostgreSQL"); set autovacuum = on',
    )


def _is_postgresql(settings: Settings) -> bool:
    return settings.database_url.startswith("postgresql")


def check_smtp(settings: Settings, timeout: float) -> Finding:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    implicit_tls = settings.smtp_tls and settings.smtp_port == 465
    try:
        client: smtplib.SMTP
        if implicit_tls:
            client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout)
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with client:
            code, _ = client.ehlo()
            if code != 250:
                return Finding(FAIL, "smtp", f"{where} answered EHLO with {code} (KVITT_SMTP_HOST, KVITT_SMTP_PORT)")
            if settings.smtp_tls and not implicit_tls and not client.has_extn("starttls"):
                return Finding(FAIL, "smtp", f"{where} offers no STARTTLS but KVITT_SMTP_TLS is true")
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        return Finding(FAIL, "smtp", f"cannot greet {where}: {_reason(exc)} (KVITT_SMTP_HOST, KVITT_SMTP_PORT)")
    tls = " over TLS" if implicit_tls else (" with STARTTLS" if settings.smtp_tls else "")
    return Finding(OK, "smtp", f"{where} answered EHLO{tls} (no login tried)")


def check_inbox(settings: Settings) -> Finding:
    if not settings.inbox_dir:
        return Finding(SKIP, "inbox", "KVITT_INBOX_DIR is not set: bank files are read only by `kvitt import bgmax`")
    folder = Path(settings.inbox_dir)
    try:
        files = [entry for entry in os.scandir(folder) if entry.is_file()]
    except OSError as exc:
        return Finding(FAIL, "inbox", f"cannot read {folder}: {_reason(exc)} (KVITT_INBOX_DIR)")
    return Finding(OK, "inbox", f"{folder} is readable ({len(files)} files), read at {settings.inbox_times}")


def check_sms(settings: Settings, timeout: float) -> Finding:
    if not settings.sms_user:
        return Finding(SKIP, "sms", "KVITT_SMS_USER is not set: SMS deliveries cannot be sent")
    return _reachable("sms", settings.sms_url, "KVITT_SMS_URL", timeout)


def check_peppol(settings: Settings, timeout: float) -> Finding:
    if settings.peppol_ap_url:
        return _reachable("peppol", settings.peppol_ap_url, "KVITT_PEPPOL_AP_URL", timeout)
    if settings.einvoice_dir:
        return check_folder("peppol", settings.einvoice_dir, "KVITT_EINVOICE_DIR")
    return Finding(SKIP, "peppol", "neither KVITT_PEPPOL_AP_URL nor KVITT_EINVOICE_DIR is set: no e-invoices")


def check_folder(what: str, folder: str, name: str) -> Finding:
    path = Path(folder)
    if path.is_dir():
        if os.access(path, os.W_OK):
            return Finding(OK, what, f"{path} is writable")
        return Finding(FAIL, what, f"{path} is not writable ({name})")
    if path.exists():
        return Finding(FAIL, what, f"{path} is a file, not a folder ({name})")
    return Finding(OK, what, f"{path} will be created when the first file is written")


def _reachable(what: str, url: str, name: str, timeout: float) -> Finding:
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return Finding(FAIL, what, f"{url} did not answer within {timeout:g} s ({name})")
    except httpx.HTTPError as exc:
        return Finding(FAIL, what, f"cannot reach {url}: {_reason(exc)} ({name})")
    if response.status_code >= 500:
        return Finding(FAIL, what, f"{url} answered {response.status_code} ({name})")
    return Finding(OK, what, f"{url} answers (HTTP {response.status_code})")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if "connection refused" in lowered or "connect call failed" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "no answer (timed out)"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "unknown host"
    return text.splitlines()[0][:200]


def report(settings: Settings, findings: list[Finding]) -> list[str]:
    """The lines `kvitt check` prints."""
    rows = effective(settings)
    width = max(len(name) for name, _ in rows)
    lines = ["configuration (secrets masked):"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines.append("checks:")
    lines += [f"  {f.state.ljust(4)}  {f.what.ljust(12)}  {f.detail}" for f in findings]
    failed = [f for f in findings if f.state == FAIL]
    lines.append(f"{len(failed)} problem(s): " + ", ".join(f.what for f in failed) if failed else "no problems found")
    return lines
