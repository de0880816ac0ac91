"""Database engine behaviour the rest of the code relies on, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import fcntl
import functools
import operator
import os
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Row, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


def configure(engine: Engine) -> None:
    """SQLite: WAL, foreign keys, and write transactions that queue instead of failing.

    pysqlite's own transaction handling defers BEGIN, so a transaction that reads and then
    writes can fail with "database is locked" when another writer got in between. We emit
    BEGIN ourselves: plain (a reader never blocks anyone in WAL mode) unless the transaction
    was opened through `write()`, which takes the write lock up front (BEGIN IMMEDIATE) and
    so waits its turn behind the busy timeout.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        statement = "BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE_OPTION) else "BEGIN"
        # On the driver's connection: SQLAlchemy's execute() around it took longer than BEGIN.
        # Its errors are raised as SQLAlchemy raises them, so callers catch one kind (a BEGIN
        # IMMEDIATE that timed out on the lock must still answer a webhook 503).
        dbapi = connection.dialect.loaded_dbapi
        try:
            connection.connection.driver_connection.execute(statement)
        except dbapi.Error as error:
            raise DBAPIError.instance(statement, None, error, dbapi.Error) from error


_WRITE_OPTION = "felix_write"


@contextmanager
def read() -> Iterator[Connection]:
    """A read-only transaction that ends with the block, so no caller keeps an old snapshot."""
    from felix_hub.backend.extensions import db

    with db.engine.connect() as connection:
        yield connection


def rows(statement: Executable) -> list[Row[Any]]:
    with read() as connection:
        return list(connection.execute(statement).all())


def scalar(statement: Executable) -> Any:
    with read() as connection:
        return connection.scalar(statement)


def scalars(statement: Executable) -> list[Any]:
    with read() as connection:
        return list(connection.scalars(statement))


@contextmanager
def write() -> Iterator[Connection]:
    """A transaction that will write: commits on success, rolls back on error.

    Every write in the code goes through here. On SQLite it holds the write lock from BEGIN;
    on PostgreSQL it is an ordinary transaction.
    """
    from felix_hub.backend.extensions import db

    engine = db.engine
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    with _sqlite_writers.hold(engine.url.database), _writer(engine).begin() as connection:
        yield connection


class _SqliteWriters:
    """Queues SQLite writers on real locks instead of SQLite's busy handler.

    The busy handler polls with sleeps of up to 100 ms, so under load writers wait far longer
    than the lock is held. Threads of this process queue on a mutex, processes on an flock()
    of a file beside the database; both hand over the moment the holder is done.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._files: dict[tuple[int, str], int] = {}

    @contextmanager
    def hold(self, database: str | None) -> Iterator[None]:
        with self._mutex:
            if not database or database == ":memory:":
                yield
                return
            fd = self._lock_file(database)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _lock_file(self, database: str) -> int:
        # Opened per process: an flock belongs to the open file, which a fork would share.
        key = (os.getpid(), database)
        if key not in self._files:
            self._files[key] = os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        return self._files[key]


_sqlite_writers = _SqliteWriters()


@functools.cache
def _writer(engine: Engine) -> Engine:
    """The engine with the write option set; built once, it costs more than a transaction."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def serialize(connection: Connection, name: str) -> None:
    """Hold a database-wide mutex named `name` until the current transaction ends.

    PostgreSQL uses a transaction-scoped advisory lock; SQLite already serialises `write()`
    transactions, which begin IMMEDIATE.
    """
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(name.encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def upsert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports `ON CONFLICT` clauses, for the dialect named (sqlite, postgresql)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def execute_many(connection: Connection, statement: Executable, values: Sequence[Mapping[str, Any]]) -> int:
    """`connection.execute(statement, values)` for large batches; returns the rowcount.

    The statement is compiled, and every value converted by its column type, as SQLAlchemy
    does; only its bookkeeping per row is left out, which costs more than SQLite takes to
    insert the row. Every mapping must have the same keys, and give every bind parameter of
    the statement (none may carry its own value).
    """
    if not values:
        return 0
    sql, keys, converters = _compiled_for_many(connection.dialect, statement, tuple(values[0]))
    fetch = operator.itemgetter(*keys)
    table = [list(fetch(row)) for row in values] if len(keys) > 1 else [[fetch(row)] for row in values]
    for column, convert in converters:  # column by column: a few types need it, most don't
        last: Any = _NOTHING
        for row in table:
            if row[column] is not last:  # a run of one object (None, a batch's timestamp) converts once
                last, converted = row[column], convert(row[column])
            row[column] = converted
    if connection.dialect.positional:
        parameters: list[Any] = [tuple(row) for row in table]
    else:
        parameters = [dict(zip(keys, row, strict=True)) for row in table]
    return connection.exec_driver_sql(sql, parameters).rowcount


_NOTHING = object()


@functools.cache
def _compiled_for_many(
    dialect: Dialect, statement: Executable, names: tuple[str, ...]
) -> tuple[str, tuple[str, ...], tuple[tuple[int, Callable[[Any], Any]], ...]]:
    """The SQL, the bind names in the DBAPI's order, and (position, converter) of each value
    whose type converts it (timestamps, JSON)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    keys = tuple(compiled.positiontup if dialect.positional else compiled.binds)
    converters = []
    for position, key in enumerate(keys):
        convert = compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            converters.append((position, convert))
    return compiled.string, keys, tuple(converters)
