"""Database engine, sessions and the declarative base shared by every feature."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Engine,
    MetaData,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault
from sqlalchemy.types import DateTime, TypeDecorator

from kvitt.core.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER on SQLite (so that it is SQLite's auto-incrementing rowid).
BigId = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
JsonType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both SQLite (which stores naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """The engine. No pre-ping on checkout (a round trip per request on PostgreSQL): connections
    are recycled after ``POOL_RECYCLE_SECONDS``, and a connection found dropped is invalidated
    with the rest of the pool by SQLAlchemy; the request wrapper retries such a request once
    (``is_disconnect``) and answers 503 while the database cannot be reached."""
    url = url or get_settings().database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        # A pool as large as PostgreSQL's: connections beyond the pool are opened and closed per
        # request (with their PRAGMAs), which cost a loaded server a tenth of its time.
        if ":memory:" not in url and url.rstrip("/") != "sqlite:":
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        gate = _WriteGate()
        event.listen(engine, "begin", functools.partial(_sqlite_begin, gate))
        for name in ("commit", "rollback"):
            event.listen(engine, name, lambda connection: gate.release(connection.connection.info))
        event.listen(engine.pool, "checkin", lambda _dbapi, record: gate.release(record.info))
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = create_engine(url, **kwargs)
    from psycopg.pq import TransactionStatus  # here: a SQLite-only process never loads the driver

    failed = functools.partial(_refuse_commit_of_a_failed_transaction, TransactionStatus.INERROR)
    event.listen(engine, "commit", failed)
    return engine


class FailedTransaction(RuntimeError):
    """A commit asked of a PostgreSQL transaction that a statement had already failed."""


def _refuse_commit_of_a_failed_transaction(in_error: Any, connection: Any) -> None:
    """PostgreSQL answers COMMIT of a transaction in which a statement failed with a ROLLBACK and
    no error: everything the unit of work wrote would be lost while it reports success (a caught
    exception around a failing statement is enough). Raise instead, so that the request or job
    fails as what it is, and its wrapper rolls back and says so."""
    raw = connection.connection.dbapi_connection
    if raw is not None and raw.info.transaction_status == in_error:
        raise FailedTransaction(
            "a statement of this transaction failed earlier, so PostgreSQL would roll it back: nothing was written"
        )


POOL_RECYCLE_SECONDS = 1800
# The execution option that marks a read-only unit of work (Database.read_sessions).
READ_ONLY = "kvitt_read_only"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so that BEGIN IMMEDIATE below is ours:
    # a write transaction takes the database lock at its start, never half-way (no deadlocks).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class _WriteGate:
    """The writers of one engine queue here, in order, before BEGIN IMMEDIATE, instead of in
    SQLite's busy handler, which sleeps up to 100 ms between tries (the 1-second tails of
    concurrent writes). Writers in other processes still meet at BEGIN IMMEDIATE. Held from
    BEGIN to COMMIT/ROLLBACK, and given back in any case when the connection returns to the pool."""

    HOLDS = "kvitt_holds_write_gate"

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def acquire(self, info: dict[Any, Any]) -> None:
        if not info.get(self.HOLDS) and self.lock.acquire(timeout=30):  # SQLite's own busy timeout
            info[self.HOLDS] = True  # (on a timeout, BEGIN IMMEDIATE below waits and fails as before)

    def release(self, info: dict[Any, Any]) -> None:
        if info.pop(self.HOLDS, False):
            self.lock.release()


def _sqlite_begin(gate: _WriteGate, connection: Any) -> None:
    """Writes take the write lock at BEGIN (IMMEDIATE), after the engine's write gate. Reads
    issue no BEGIN at all: each statement runs in SQLite's autocommit mode on its own WAL
    snapshot, beside the one writer and never waiting for it, as PostgreSQL's autocommit reads
    do (a read of one object takes one or two statements). A read-only unit of work is also
    ``PRAGMA query_only``, so that a write slipped into a read fails loudly instead of
    committing statement by statement (switched only when the connection changes role).
    Straight on sqlite3: every call into SQLite hands the GIL over and back, which a loaded
    server feels."""
    read_only = bool(connection.get_execution_options().get(READ_ONLY))
    pooled = connection.connection
    raw = pooled.dbapi_connection
    if pooled.info.get(READ_ONLY, False) != read_only:
        raw.execute(f"PRAGMA query_only={int(read_only)}")
        pooled.info[READ_ONLY] = read_only
    if not read_only:
        gate.acquire(pooled.info)
        raw.execute("BEGIN IMMEDIATE")


def is_postgresql(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


class Database:
    """One engine and its session factory; the app, the worker and the CLI each hold one."""

    def __init__(self, url: str | None = None, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Read-only units of work (GET requests): autocommit reads on both databases (on SQLite
        # WAL snapshots beside the writer, never BEGIN IMMEDIATE; on PostgreSQL no BEGIN and
        # COMMIT round trips). The pool and connections are the engine's.
        options: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            options["isolation_level"] = "AUTOCOMMIT"
        self.read_engine = self.engine.execution_options(**options)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        # A point read (one row by its key, a few statements) may run on the event loop itself
        # when the database is a file in this process: SQLite reads a WAL snapshot without
        # waiting for the writer, so the read never blocks on I/O the loop could overlap, and
        # the thread hand-over it saves costs more than the read (decisions/0004).
        self.point_reads_on_loop = self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work: nothing to commit; see ``read_sessions``."""
        session = self.read_sessions()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def read_snapshot(self) -> Iterator[Session]:
        """A read-only unit of work for a read that streams its rows: on PostgreSQL one READ ONLY,
        REPEATABLE READ transaction (a server-side cursor needs a transaction, which the
        autocommit read sessions have not; it writes nothing and takes no lock a writer waits
        for), rolled back at the end; on SQLite the read session as it is (no BEGIN, no write lock)."""
        session = self.read_sessions()
        try:
            if self.engine.dialect.name == "postgresql":
                options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                session.connection(execution_options=options)
            yield session
        finally:
            session.close()

    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh PostgreSQL's planner statistics of tables a bulk command has just grown.

        PostgreSQL's manual (14.4.9, "Run ANALYZE Afterwards") asks for this after a bulk load:
        until autovacuum's next look (up to a minute away) the planner believes a table that
        went from a few rows to thousands is still tiny, and chose a nested loop over the whole
        tenant for the jobs that follow a billing run (378 ms a query instead of 1.6 ms,
        bench/RESULTS.md). SQLite plans without statistics here, so this does nothing there.
        """
        if self.engine.dialect.name != "postgresql" or not tables:
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE " + ", ".join(_quoted_table(t) for t in tables))

    def dispose(self) -> None:
        self.engine.dispose()


def _quoted_table(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {name!r}")
    return name


def is_disconnect(exc: BaseException) -> bool:
    """A connection that broke under us (the server restarted, a network cut): nothing of the
    transaction was kept, and a fresh connection may well work."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or is busy beyond its timeout: answer 503, not 500."""
    if is_disconnect(exc):
        return True
    if not isinstance(exc, OperationalError):
        return False
    message = str(exc.orig).lower()
    return any(
        sign in message
        for sign in (
            "connection",  # refused, failed, closed, timeout
            "server closed",
            "terminating",
            "shutting down",
            "starting up",
            "database is locked",
        )
    )


def reserve_ids(session: Session, model: type[Base], count: int) -> list[int]:
    """Take ``count`` ids for ``table`` before inserting, so that rows can refer to each other.

    PostgreSQL hands out the ids from the table's identity sequence. SQLite has no sequence, but
    every write transaction here starts with ``BEGIN IMMEDIATE`` and so holds the database's
    write lock: the ids after the current maximum are ours until we commit.
    """
    if count <= 0:
        return []
    table = _table(model)
    if is_postgresql(session):
        # The table name comes from our own metadata, never from input.
        sequence_of = f"pg_get_serial_sequence('{table.name}', 'id')"
        query = text(f"SELECT nextval({sequence_of}) FROM generate_series(1, :n)")  # noqa: S608
        return [int(value) for value in session.scalars(query, {"n": count})]
    start = int(session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1
    return list(range(start, start + count))


def any_of(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values`` for a list of any length, as ``column = ANY(:array)`` on PostgreSQL.

    An IN list of 2,000 parameters run batch after batch makes PostgreSQL switch to a generic
    plan that searches the list for every row it scans: the BGMax duplicate check grew
    quadratically (bench/bgmax_match.py). One array parameter keeps the index probe per value.
    """
    wanted = sorted(set(values))
    if not is_postgresql(session):
        return cast(ColumnElement[bool], column.in_(wanted))
    return cast(ColumnElement[bool], column == any_(bindparam(None, wanted, type_=postgresql.ARRAY(column.type))))


# Below this many rows an INSERT (one statement: SQLAlchemy's insertmanyvalues) beats COPY,
# whose start and end cost two round trips: a one-line draft's two one-row COPYs were 14 % of
# the POST's samples on PostgreSQL (issue 20).
COPY_FROM_ROWS = 16


def bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (from COPY_FROM_ROWS
    rows), executemany otherwise.

    Column defaults declared in Python (timestamps, empty JSON) are filled in here, because COPY
    bypasses SQLAlchemy. Every row must carry the same keys (column names, not attribute names).
    """
    if not rows:
        return
    table = _table(model)
    rows = [_with_defaults(table, row) for row in rows]
    if not is_postgresql(session) or len(rows) < COPY_FROM_ROWS:
        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


_DEFAULTED: dict[Table, tuple[Any, ...]] = {}


def _with_defaults(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    # The columns with a Python default, listed once per table (not a walk of every column per
    # row: ~12 µs a row in a BGMax import, bench/bgmax_match.py).
    defaulted = _DEFAULTED.get(table)
    if defaulted is None:
        defaulted = _DEFAULTED[table] = tuple(c for c in table.columns if c.default is not None)
    filled = dict(row)
    for column in defaulted:
        if column.name in filled:
            continue
        default = column.default
        if isinstance(default, CallableColumnDefault):
            filled[column.name] = default.arg(cast(Any, None))  # our defaults ignore the context
        elif isinstance(default, ScalarElementColumnDefault):
            filled[column.name] = default.arg
    return filled
