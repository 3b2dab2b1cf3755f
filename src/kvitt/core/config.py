"""Configuration from the environment (``KVITT_*``); see ``.env.example``."""

from __future__ import annotations

from datetime import time
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KVITT_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./kvitt.db"
    # Where recipients reach web invoices; unset: the address `kvitt serve` listens on.
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # Run the job worker inside `kvitt serve` (the embedded default).
    embedded_worker: bool = True
    worker_poll_seconds: float = 1.0
    worker_batch_size: int = 50
    job_max_attempts: int = 8
    job_lease_seconds: int = 300
    # A folder the bank connection drops BGMax files into, read at these Swedish times of day.
    inbox_dir: str | None = None
    inbox_times: str = "07:00,12:00,17:00"
    # Billing-file mappings (<name>.toml) that `?mapping=<name>` and `--mapping <name>` name.
    billing_mappings_dir: str | None = None
    log_level: str = "INFO"
    log_json: bool = False
    # Delivery (docs/delivery.md). Email over SMTP; KVITT_SMTP_TLS: STARTTLS (implicit TLS on port 465).
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 30.0
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
    print_batch_seconds: int = 300


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def inbox_slots(settings: Settings) -> list[time]:
    """The times of day the inbox is read, from ``KVITT_INBOX_TIMES`` ("07:00,12:00,17:00")."""
    return sorted(time.fromisoformat(part.strip()) for part in settings.inbox_times.split(",") if part.strip())


def web_base_url(settings: Settings) -> str:
    """The address web-invoice links start with (no trailing slash)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
