"""Configuration from the environment (``KVITT_*``); see ``.env.example``.

Every setting is checked when ``Settings`` is built: a bad value is refused with what is allowed,
so that a mistake shows at start (``kvitt`` exits 2 with one line per problem, see
:func:`problems_of`) and not hours later inside a job. :func:`unknown_names` finds ``KVITT_*``
names that are no setting (a misspelt name would otherwise be silently ignored).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "KVITT_"
ENV_FILE = ".env"
# KVITT_* names read by the test suite and benchmarks, not by Kvitt itself.
TOOL_NAMES = frozenset({"KVITT_SHRINK", "KVITT_YEAR_SUBSCRIPTIONS", "KVITT_YEAR_CUSTOMERS"})
TOOL_PREFIXES = ("KVITT_TEST_",)
# Shown as ***** by `kvitt check` (and the password inside KVITT_DATABASE_URL).
SECRET_FIELDS = frozenset(
    {"smtp_password", "sms_password", "peppol_ap_key", "stripe_secret_key", "stripe_webhook_secret"}
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HHMM = re.compile(r"^\d{2}:\d{2}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_SMS_SENDER = re.compile(r"^([A-Za-z][A-Za-z0-9]{2,10}|\+?[0-9]{3,15})$")
_HOST = re.compile(r"^[A-Za-z0-9._:\-\[\]]+$")

# What each setting allows, for the message when pydantic's own parsing refuses a value.
ALLOWED = {
    "port": "a port number from 1 to 65535",
    "smtp_port": "a port number from 1 to 65535",
    "embedded_worker": "true or false (also 1/0, yes/no, on/off)",
    "log_json": "true or false (also 1/0, yes/no, on/off)",
    "smtp_tls": "true or false (also 1/0, yes/no, on/off)",
    "worker_poll_seconds": "a number of seconds above 0, e.g. 1 or 0.5",
    "smtp_timeout_seconds": "a number of seconds above 0, e.g. 30",
    "worker_batch_size": "a whole number from 1 to 10000",
    "job_max_attempts": "a whole number from 1 to 100",
    "job_lease_seconds": "a whole number of seconds from 1 up",
    "print_batch_seconds": "a whole number of seconds from 1 up",
    "max_body_bytes": "a whole number of bytes from 1024 up, e.g. 1048576",
    "rate_limit_per_second": "a number of requests per second, 0 or more (0: no limit)",
    "rate_limit_burst": "a whole number of requests from 1 up",
}


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _http_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("allowed: an http:// or https:// address with a host, e.g. https://api.example.se")
    try:
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError:
        raise ValueError("allowed: an http:// or https:// address with a host and a numeric port") from None
    return value.strip().rstrip("/")


def _writable_folder(value: str) -> str:
    """A folder Kvitt creates when it writes the first file: it or its nearest parent must be writable."""
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError("this is a file; allowed: a folder")
        if not os.access(path, os.W_OK):
            raise ValueError("not writable; allowed: a folder Kvitt may write into")
        return value
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"allowed: a folder Kvitt can create, but {parent} is not a writable folder")
    return value


def _pem_file(value: str, label: str, allowed: str) -> str:
    """A readable file holding a PEM block whose label ends with ``label`` (``CERTIFICATE``, ``PRIVATE KEY``)."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file; allowed: {allowed}")
    try:
        text = path.read_text("ascii", errors="replace")
    except OSError:
        raise ValueError(f"not readable; allowed: {allowed} Kvitt may read") from None
    if not re.search(rf"-----BEGIN [A-Z ]*{label}-----", text) or "ENCRYPTED PRIVATE KEY" in text:
        raise ValueError(f"no {label.lower()} in it; allowed: {allowed}")
    return str(path)


def parse_times(value: str) -> list[time]:
    """``"07:00,12:00,17:00"`` → the times; ValueError naming the part that is no HH:MM time."""
    slots = []
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            if not _HHMM.match(text):
                raise ValueError(text)
            slots.append(time.fromisoformat(text))
        except ValueError:
            raise ValueError(
                f"{text!r} is no time of day; allowed: times as HH:MM separated by commas, e.g. 07:00,12:00,17:00"
            ) from None
    if not slots:
        raise ValueError("allowed: at least one time as HH:MM, several separated by commas, e.g. 07:00,12:00,17:00")
    return sorted(slots)


def check_database_url(value: str) -> str:
    """A SQLAlchemy URL Kvitt can use: ``sqlite:///<file>`` (its folder must exist) or ``postgresql://…``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    allowed = "allowed: sqlite:///<file> or postgresql://<user>:<password>@<host>:<port>/<database>"
    text = value.strip()
    if text.startswith("postgres://"):
        raise ValueError(f"write postgresql:// instead of postgres://; {allowed}")
    try:
        url = make_url(text)
        url.port  # noqa: B018 - a port that is no number raises here
    except (ArgumentError, ValueError):
        raise ValueError(f"not a database address; {allowed}") from None
    if url.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"):
        raise ValueError(f"the database kind {url.drivername!r} is not supported; {allowed}")
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        folder = Path(url.database).expanduser().absolute().parent
        if not folder.is_dir():
            raise ValueError(f"the folder {folder} of the SQLite file does not exist; create it or name another file")
    return text


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore")

    database_url: str = "sqlite:///./kvitt.db"
    # Where recipients reach web invoices; unset: the address `kvitt serve` listens on.
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Run the job worker inside `kvitt serve` (the embedded default).
    embedded_worker: bool = True
    worker_poll_seconds: float = Field(1.0, gt=0, le=3600)
    worker_batch_size: int = Field(500, ge=1, le=10_000)
    job_max_attempts: int = Field(8, ge=1, le=100)
    job_lease_seconds: int = Field(300, ge=1)
    # A folder the bank connection drops BGMax files into, read at these Swedish times of day.
    inbox_dir: str | None = None
    inbox_times: str = "07:00,12:00,17:00"
    # Billing-file mappings (<name>.toml) that `?mapping=<name>` and `--mapping <name>` name.
    billing_mappings_dir: str | None = None
    log_level: str = "INFO"
    log_json: bool = False
    # Delivery (docs/delivery.md). Email over SMTP; KVITT_SMTP_TLS: STARTTLS (implicit TLS on port 465).
    smtp_host: str = "localhost"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    smtp_timeout_seconds: float = Field(30.0, gt=0, le=600)
    mail_from: str = "kvitt@localhost"
    # SMS through 46elks' HTTP API (or the simulator, kvitt.simulators.sms_46elks).
    sms_url: str = "https://api.46elks.com"
    sms_user: str | None = None
    sms_password: str | None = None
    sms_from: str | None = None  # alphanumeric sender (max 11); unset: the tenant's name
    # Peppol access point (docs/delivery.md, the simulator kvitt.simulators.peppol_ap) or a folder.
    peppol_ap_url: str | None = None
    peppol_ap_key: str | None = None
    einvoice_dir: str | None = None
    # Letters: print batches (one PDF per letter + manifest.csv) for the print partner.
    print_dir: str = "./kvitt-print"
    print_batch_seconds: int = Field(300, ge=1)
    # Pay on the spot (docs/payments.md). Swish Commerce API: its address (Swish's production by
    # default; `kvitt simulate swish` prints the simulator's), the merchant's client certificate
    # and key (PEM; one file may hold both) and the CA the server is checked against (unset: the
    # system's), and the Swish number used when a tenant has none of its own.
    swish_url: str = "https://cpc.getswish.net"
    swish_cert: str | None = None
    swish_key: str | None = None
    swish_ca: str | None = None
    swish_payee_alias: str | None = None
    # A tenant's own Swish certificate: <dir>/<organisation number, digits>/client.pem, client.key, ca.pem.
    swish_certs_dir: str | None = None
    # Card payments through Stripe (or `kvitt simulate card`): the API's address, the secret key,
    # the webhook endpoint's signing secret, and the card page a payer is sent to (the
    # simulator's; unset: no card button).
    stripe_api_base: str = "https://api.stripe.com"
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_card_page: str | None = None
    # API limits (docs/api.md): request bodies above max_body_bytes get 413 (file uploads have
    # their own limits); per API key and process, rate_limit_per_second sustained and
    # rate_limit_burst at once, then 429 with Retry-After (0: no rate limit).
    max_body_bytes: int = Field(1_048_576, ge=1024)
    rate_limit_per_second: float = Field(2000.0, ge=0)
    rate_limit_burst: int = Field(4000, ge=1)
    # BankID Relying Party API v6 (docs/bankid.md): the service's address (unset: no BankID
    # sign-up on the web invoice), the relying party's client certificate and key (PEM files; one
    # file may hold both) and the CA certificate the server's certificate is checked against.
    bankid_url: str | None = None
    bankid_cert: str | None = None
    bankid_key: str | None = None
    bankid_ca: str | None = None
    # Where the worker writes the autogiro order file each banking day (docs/autogiro.md); unset: not written.
    autogiro_outbox_dir: str | None = None

    @field_validator(
        "public_url",
        "inbox_dir",
        "autogiro_outbox_dir",
        "billing_mappings_dir",
        "smtp_user",
        "smtp_password",
        "sms_user",
        "sms_password",
        "sms_from",
        "peppol_ap_url",
        "peppol_ap_key",
        "einvoice_dir",
        "swish_cert",
        "swish_key",
        "swish_ca",
        "swish_payee_alias",
        "swish_certs_dir",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "stripe_card_page",
        "bankid_url",
        "bankid_cert",
        "bankid_key",
        "bankid_ca",
        mode="before",
    )
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return _blank_is_none(value)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("public_url", "peppol_ap_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("sms_url", "swish_url", "stripe_api_base")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("stripe_card_page")
    @classmethod
    def _card_page(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("swish_cert", "swish_ca")
    @classmethod
    def _swish_certificate(cls, value: str | None) -> str | None:
        return None if value is None else _pem_file(value, "CERTIFICATE", "a PEM certificate file")

    @field_validator("swish_key")
    @classmethod
    def _swish_key(cls, value: str | None) -> str | None:
        return None if value is None else _pem_file(value, "PRIVATE KEY", "a PEM private key file (unencrypted)")

    @field_validator("swish_certs_dir")
    @classmethod
    def _swish_certs_dir(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_dir():
            raise ValueError("no such folder; allowed: a folder with one folder per tenant's organisation number")
        return value

    @field_validator("swish_payee_alias")
    @classmethod
    def _swish_alias(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[1-9][0-9]{7,14}", value.strip()):
            raise ValueError("allowed: the Swish number in digits, e.g. 1231181189")
        return None if value is None else value.strip()

    @field_validator("host", "smtp_host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value.strip()):
            raise ValueError("allowed: a host name or IP address, e.g. 127.0.0.1 or mail.example.se (no http://)")
        return value.strip()

    @field_validator("inbox_times")
    @classmethod
    def _inbox_times(cls, value: str) -> str:
        parse_times(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"allowed: {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        if not _EMAIL.match(value.strip()):
            raise ValueError("allowed: an email address, e.g. faktura@example.se")
        return value.strip()

    @field_validator("sms_from")
    @classmethod
    def _sms_from(cls, value: str | None) -> str | None:
        if value is not None and not _SMS_SENDER.match(value):
            raise ValueError("allowed: 3-11 letters and digits starting with a letter, or a phone number")
        return value

    @field_validator("inbox_dir")
    @classmethod
    def _inbox_dir(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_dir():
            raise ValueError("no such folder; allowed: an existing folder the bank files are dropped into")
        if not os.access(path, os.R_OK | os.X_OK):
            raise ValueError("not readable; allowed: a folder Kvitt may read")
        return value

    @field_validator("billing_mappings_dir")
    @classmethod
    def _mappings_dir(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_dir():
            raise ValueError("no such folder; allowed: an existing folder of <name>.toml mappings")
        return value

    @field_validator("einvoice_dir")
    @classmethod
    def _einvoice_dir(cls, value: str | None) -> str | None:
        return None if value is None else _writable_folder(value)

    @field_validator("autogiro_outbox_dir")
    @classmethod
    def _autogiro_outbox_dir(cls, value: str | None) -> str | None:
        return None if value is None else _writable_folder(value)

    @field_validator("print_dir")
    @classmethod
    def _print_dir(cls, value: str) -> str:
        return _writable_folder(value)

    @field_validator("bankid_url")
    @classmethod
    def _bankid_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip().startswith("https://"):
            raise ValueError("allowed: an https:// address, e.g. https://appapi2.test.bankid.com/rp/v6.0")
        return _http_url(value)

    @field_validator("bankid_cert", "bankid_ca")
    @classmethod
    def _bankid_certificate(cls, value: str | None) -> str | None:
        return None if value is None else _pem_file(value, "CERTIFICATE", "a PEM certificate file")

    @field_validator("bankid_key")
    @classmethod
    def _bankid_key(cls, value: str | None) -> str | None:
        return None if value is None else _pem_file(value, "PRIVATE KEY", "a PEM private key file (unencrypted)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def problems_of(error: ValidationError) -> list[str]:
    """One line per refused setting: ``KVITT_PORT='abc': allowed: a port number from 1 to 65535``."""
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item.get("loc") else "?"
        if item["type"] == "value_error":
            reason = str(item["msg"]).removeprefix("Value error, ")
        else:
            reason = "allowed: " + ALLOWED.get(field, str(item["msg"]))
        lines.append(f"{env_name(field)}={_shown(field, item.get('input'))}: {reason}")
    return lines


def _shown(field: str, value: Any) -> str:
    if field in SECRET_FIELDS:
        return "'*****'"
    if field == "database_url" and isinstance(value, str):
        return repr(mask_url(value))
    return repr(value)


def mask_url(url: str) -> str:
    """The address with its password replaced by ``*****``."""
    return re.sub(r"^([a-z0-9+]+://[^:/@]*:)[^@]*@", r"\1*****@", url)


def unknown_names(environ: Mapping[str, str] | None = None, env_file: str | Path | None = ENV_FILE) -> list[str]:
    """A warning per ``KVITT_*`` name (in the environment or .env) that is no setting, with the closest one."""
    from dotenv import dotenv_values

    known = {env_name(name) for name in Settings.model_fields}
    names = {
        name.upper() for name in (os.environ if environ is None else environ) if name.upper().startswith(ENV_PREFIX)
    }
    if env_file is not None and Path(env_file).is_file():
        names |= {name.upper() for name in dotenv_values(env_file) if name.upper().startswith(ENV_PREFIX)}
    warnings = []
    for name in sorted(names - known):
        if name in TOOL_NAMES or name.startswith(TOOL_PREFIXES):
            continue
        # Compared without the prefix every name shares (it would make any two names look alike).
        suffixes = sorted(known_name.removeprefix(ENV_PREFIX) for known_name in known)
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), suffixes, n=1, cutoff=0.6)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "see .env.example for the settings"
        warnings.append(f"{name} is not a Kvitt setting and is ignored; {hint}")
    return warnings


def effective(settings: Settings) -> list[tuple[str, str]]:
    """Every setting as (KVITT_NAME, value) with secrets masked, for `kvitt check`."""
    rows = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if value is None:
            shown = "(unset)"
        elif field in SECRET_FIELDS:
            shown = "*****"
        elif field == "database_url":
            shown = mask_url(value)
        else:
            shown = str(value).lower() if isinstance(value, bool) else str(value)
        rows.append((env_name(field), shown))
    return rows


def inbox_slots(settings: Settings) -> list[time]:
    """The times of day the inbox is read, from ``KVITT_INBOX_TIMES`` ("07:00,12:00,17:00")."""
    return parse_times(settings.inbox_times)


def web_base_url(settings: Settings) -> str:
    """The address web-invoice links start with (no trailing slash)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
