"""Configuration from the environment (``KVITT_*``); see ``.env.example``."""

from __future__ import annotations

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
    log_level: str = "INFO"
    log_json: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def web_base_url(settings: Settings) -> str:
    """The address web-invoice links start with (no trailing slash)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
