"""The store's connection plumbing: the engine (SQLite's durability and locking settings, or
PostgreSQL), one transaction per `with`, and database errors as `StoreError`s that say what to do.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from reelrank.errors import StoreError

if TYPE_CHECKING:
    from reelrank.store.store import RatingStore

BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another process's write lock


class Transaction:
    """`with store._writing() as connection:` one transaction, errors as `StoreError`s."""

    def __init__(self, store: RatingStore, *, write: bool) -> None:
        self.store = store
        self.write = write
        self.context: Any = None
        self.lock: threading.Lock | None = None

    def __enter__(self) -> Any:
        self.lock = self.store._one_writer if self.write else None
        if self.lock is not None:
            self.lock.acquire()
        try:
            engine = self.store.engine.execution_options(reelrank_write=self.write)
            self.context = engine.begin()
            return self.context.__enter__()
        except SQLAlchemyError as error:
            self._release()
            raise store_error(self.store, error) from None
        except BaseException:
            self._release()
            raise

    def __exit__(self, kind: Any, error: Any, trace: Any) -> Literal[False]:
        try:
            self.context.__exit__(kind, error, trace)
        except SQLAlchemyError as failure:
            raise store_error(self.store, failure) from None
        finally:
            self._release()
        if isinstance(error, SQLAlchemyError):
            raise store_error(self.store, error) from None
        return False

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def engine_for(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_settings(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun below, explicitly
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # A writer takes the lock up front, so a waiting one queues behind busy_timeout (a
            # deferred transaction upgrading from read to write would fail at once instead);
            # a reader begins deferred and, in WAL mode, never waits.
            writes = connection.get_execution_options().get("reelrank_write", True)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


def store_error(store: RatingStore, error: SQLAlchemyError) -> StoreError:
    return StoreError(f"the store {store.where} failed: {reason(error)}")


def reason(error: SQLAlchemyError) -> str:
    original = error.orig if isinstance(error, DBAPIError) else None
    text = str(original or error).strip().splitlines()[0]
    if "file is not a database" in text or "malformed" in text:
        return f"{text}: the file is corrupt or not a reelrank store; move it aside"
    if any(sign in text for sign in FULL_DISK):
        return f"{text}: the disk is full; free some space (this write was not kept: send it again)"
    return text


# How SQLite and PostgreSQL say a write found no room.
FULL_DISK = ("database or disk is full", "No space left on device", "could not extend file")
