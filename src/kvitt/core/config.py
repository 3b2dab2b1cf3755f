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
    log_level: str = "INFO"
    log_json: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def inbox_slots(settings: Settings) -> list[time]:
    """The times of day the inbox is read, from ``KVITT_INBOX_TIMES`` ("07:00,12:00,17:00")."""
    return sorted(time.fromisoformat(part.strip()) for part in settings.inbox_times.split(",") if part.strip())


def web_base_url(settings: Settings) -> str:
    """The address web-invoice links start with (no trailing slash)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
