"""Is the database reachable, and is its schema the one this Kvitt needs?

One answer for the CLI (a command that fails on the database says why and what fixes it),
``kvitt check``, ``/readyz`` and the API (503 with the reason instead of a 500 on every call).
Each check opens its own short-lived connection with a short timeout, never one of the pool's:
a readiness probe must not wait behind a busy writer's lock or an exhausted pool.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import structlog
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

READY = "ready"
UNREACHABLE = "database_unreachable"
MISSING = "database_missing"
LOGIN_REFUSED = "database_login_refused"
NO_SCHEMA = "schema_missing"
OUTDATED = "schema_outdated"
NEWER = "schema_newer"
MIGRATE = "run `kvitt migrate`"
VERSION_TABLE = "alembic_version"
log = structlog.get_logger("kvitt.readiness")


@dataclass(frozen=True)
class DatabaseStatus:
    code: str
    message: str  # one line that names the problem and the fix
    current: str | None = None
    head: str | None = None

    @property
    def ready(self) -> bool:
        return self.code == READY

    def to_dict(self) -> dict[str, str | None]:
        return {"status": self.code, "message": self.message, "schema": self.current, "schema_head": self.head}


@lru_cache(maxsize=1)
def schema_heads() -> tuple[str, ...]:
    """The migration revision(s) this Kvitt's code needs (normally one)."""
    from alembic.script import ScriptDirectory

    from kvitt.migrations import alembic_config

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    from kvitt.migrations import alembic_config

    return frozenset(s.revision for s in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())


def database_status(url: str | URL, timeout_seconds: int = 3) -> DatabaseStatus:
    """Connect (without creating anything) and compare the schema revision with the code's."""
    url = make_url(url) if isinstance(url, str) else url
    head = ",".join(schema_heads())
    where = _where(url)
    sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if sqlite_file and not Path(str(url.database)).exists():
        return DatabaseStatus(NO_SCHEMA, f"there is no database file {url.database} yet: {MIGRATE}", head=head)
    engine = _probe_engine(url, timeout_seconds)
    try:
        with engine.connect() as connection:
            # Read directly, not through Alembic's MigrationContext (it logs two lines per probe).
            current: tuple[str, ...] = ()
            if inspect(connection).has_table(VERSION_TABLE):
                current = tuple(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))  # noqa: S608
    except DBAPIError as exc:
        return _connect_problem(url, exc)
    except SQLAlchemyError as exc:
        return DatabaseStatus(UNREACHABLE, f"cannot use the database at {where}: {_reason(exc)}", head=head)
    finally:
        engine.dispose()
    shown = ",".join(sorted(current)) or None
    if not current:
        return DatabaseStatus(NO_SCHEMA, f"the database at {where} has no Kvitt schema: {MIGRATE}", head=head)
    if set(current) == set(schema_heads()):
        return DatabaseStatus(READY, f"the database at {where} is reachable; schema at {head}", shown, head)
    if not set(current) <= known_revisions():
        return DatabaseStatus(
            NEWER,
            f"the database schema at {where} is at {shown}, newer than this Kvitt ({head}): "
            "upgrade Kvitt, or point KVITT_DATABASE_URL at the right database",
            shown,
            head,
        )
    return DatabaseStatus(
        OUTDATED, f"the database schema at {where} is at {shown}, this Kvitt needs {head}: {MIGRATE}", shown, head
    )


def database_setting(url: str | URL, name: str, timeout_seconds: int = 3) -> str:
    """A PostgreSQL server setting (``SHOW``), read on a connection of its own; ``OSError`` with
    the reason when the server cannot be asked."""
    url = make_url(url) if isinstance(url, str) else url
    engine = _probe_engine(url, timeout_seconds)
    try:
        with engine.connect() as connection:
            return str(connection.scalar(text("SELECT current_setting(:name)"), {"name": name}))
    except SQLAlchemyError as exc:
        raise OSError(_reason(exc)) from exc
    finally:
        engine.dispose()


def _probe_engine(url: URL, timeout_seconds: int) -> Engine:
    if url.get_backend_name() == "sqlite":
        # Not kvitt.core.db.make_engine: its BEGIN IMMEDIATE would wait for a writer's lock.
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": timeout_seconds})
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": timeout_seconds})


def _where(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or url.username or ''}"


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "timeout" in lowered or "timed out" in lowered:
        return "no answer (timed out)"
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return "unknown host"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return first.removeprefix("connection failed: ")[:200]


def _connect_problem(url: URL, exc: DBAPIError) -> DatabaseStatus:
    head = ",".join(schema_heads())
    text = str(exc.orig or exc)
    if url.get_backend_name() == "sqlite":
        return DatabaseStatus(UNREACHABLE, f"cannot open the SQLite file {url.database}: {_reason(exc)}", head=head)
    host = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "does not exist" in text and "database" in text:
        return DatabaseStatus(
            MISSING,
            f'the database "{url.database}" does not exist on PostgreSQL at {host}: create it '
            f"(createdb -h {url.host or 'localhost'} -p {url.port or 5432} -U {url.username or 'postgres'} "
            f"{url.database}), then {MIGRATE}",
            head=head,
        )
    if "password authentication failed" in text or ("role" in text and "does not exist" in text):
        return DatabaseStatus(
            LOGIN_REFUSED,
            f"PostgreSQL at {host} refused the login of {url.username!r}: check the user and password "
            "in KVITT_DATABASE_URL",
            head=head,
        )
    return DatabaseStatus(
        UNREACHABLE,
        f"cannot reach PostgreSQL at {host} ({_reason(exc)}): is it running, and is KVITT_DATABASE_URL right?",
        head=head,
    )


class Watch:
    """The status of one database, probed at most every ``cache_seconds`` (a burst of failing
    requests or ticks probes once), logged when it changes and once a minute while not ready."""

    def __init__(self, url: str | URL, cache_seconds: float = 2.0, log_every_seconds: float = 60.0) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.log_every_seconds = log_every_seconds
        self._lock = threading.Lock()
        self._status: DatabaseStatus | None = None
        self._checked_at = 0.0
        self._logged: tuple[str, float] = ("", 0.0)

    def get(self, fresh: bool = False) -> DatabaseStatus:
        with self._lock:
            now = time.monotonic()
            if fresh or self._status is None or now - self._checked_at > self.cache_seconds:
                self._status = database_status(self.url)
                self._checked_at = now
            status = self._status
            last_code, last_at = self._logged
            if status.code != last_code or (not status.ready and now - last_at > self.log_every_seconds):
                if not status.ready:
                    log.warning("database not ready", status=status.code, reason=status.message)
                elif last_code:
                    log.info("database ready", status=status.code)
                self._logged = (status.code, now)
            return status
