"""`RatingStore`: the ratings people give, kept durably in SQLite (the default) or PostgreSQL.

A write returns only after its transaction is committed: SQLite runs in WAL mode with
`synchronous=FULL`, so a committed rating survives `kill -9` and a power cut; PostgreSQL commits
durably by default. Every write takes SQLite's write lock up front (`BEGIN IMMEDIATE`) and waits
for it (`busy_timeout`), so several server processes sharing one file queue instead of failing
with "database is locked". Statements are SQLAlchemy Core, parameterised, never built from text.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from reelrank.errors import ReelrankError, StoreError
from reelrank.store import schema
from reelrank.store.engine import Transaction, engine_for, reason
from reelrank.store.group_commit import GroupCommit
from reelrank.store.movies import StoredMovies
from reelrank.store.schema import MAX_ID, SCHEMA_VERSION, movies, ratings, users

DATA_DIR_ENV = "REELRANK_DATA_DIR"
STORE_FILE = "store.sqlite3"
WRITE_BATCH = 10_000  # rows per statement when many are written at once


@dataclass(frozen=True, order=True)
class StoredRating:
    """One rating a person gave: `timestamp` is when, in seconds since 1970."""

    user_id: str
    movie_id: str
    rating: float
    timestamp: int


def default_store_path() -> Path:
    """`$REELRANK_DATA_DIR/store.sqlite3`, else under `$XDG_DATA_HOME/reelrank`, else
    `~/.local/share/reelrank`."""
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser() / STORE_FILE
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "reelrank" / STORE_FILE


def store_url(location: str | Path | None) -> str:
    """The SQLAlchemy URL of a store: a `postgresql://` (or `postgres://`) URL as given, driven by
    psycopg; a `sqlite:///` URL as given; anything else a path to an SQLite file (None: the
    default path)."""
    text = str(location) if location is not None else ""
    for scheme in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if text.startswith(scheme):
            return "postgresql+psycopg://" + text[len(scheme) :]
    if text.startswith("sqlite:///"):
        return text
    path = Path(text).expanduser() if text else default_store_path()
    return f"sqlite:///{path.resolve()}"


class RatingStore:
    """Ratings and the users who give them, in SQLite or PostgreSQL, one schema for both.

    Opening a store creates it (a new SQLite file and its folder, or the tables in an empty
    PostgreSQL database) or migrates an older one; a store of a newer schema, a corrupt file
    or a database holding other tables is a `StoreError` that says what to do.
    """

    def __init__(self, location: str | Path | None = None) -> None:
        self.url = store_url(location)
        self.engine = engine_for(self.url)
        # SQLite takes one writer at a time, and a writer waiting in its busy handler polls
        # with sleeps of up to 100 ms: the threads of one process queue here instead, in turn.
        self._one_writer = threading.Lock() if self.url.startswith("sqlite") else None
        self._group: GroupCommit[StoredRating] = GroupCommit(self._write)
        self.movies = StoredMovies(self)  # movies added after training, edits and takedowns
        self.where = self.engine.url.render_as_string(hide_password=True)
        try:
            self._migrate()
        except StoreError:
            self.engine.dispose()
            raise
        except SQLAlchemyError as error:
            self.engine.dispose()
            raise StoreError(f"cannot open the store {self.where}: {reason(error)}") from None

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> RatingStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def put(
        self, user_id: str, movie_id: str, rating: float, timestamp: int | None = None
    ) -> StoredRating:
        """Record (or replace) `user_id`'s rating of `movie_id`; returns once it is committed."""
        row = StoredRating(user_id, movie_id, rating, _now() if timestamp is None else timestamp)
        self.put_many([row])
        return row

    async def put_async(
        self, user_id: str, movie_id: str, rating: float, timestamp: int | None = None
    ) -> StoredRating:
        """`put` for an event loop: it waits for the commit without holding a thread."""
        row = StoredRating(user_id, movie_id, rating, _now() if timestamp is None else timestamp)
        await self._group.submit_async([_checked(row)])
        return row

    def put_many(self, rows: Iterable[StoredRating]) -> int:
        """Record many ratings in one transaction (all or none); a later row for the same user
        and movie replaces an earlier one. Returns how many rows were written, once they are
        committed: writes of other threads arriving meanwhile share the commit (`GroupCommit`)."""
        checked = [_checked(row) for row in rows]
        if not checked:
            return 0
        self._group.submit(checked)
        return len(checked)

    def _write(self, checked: list[StoredRating]) -> None:
        """Write checked rows in one transaction."""
        stored_at = _now()
        with self._writing() as connection:
            for start in range(0, len(checked), WRITE_BATCH):
                part = checked[start : start + WRITE_BATCH]
                new_users = sorted({row.user_id for row in part})
                connection.execute(
                    self._insert(users)
                    .values([{"user_id": u, "created_at": stored_at} for u in new_users])
                    .on_conflict_do_nothing()
                )
                latest = {(row.user_id, row.movie_id): row for row in part}  # last one wins
                statement = self._insert(ratings).values(
                    [
                        {
                            "user_id": row.user_id,
                            "movie_id": row.movie_id,
                            "rating": row.rating,
                            "timestamp": row.timestamp,
                            "stored_at": stored_at,
                        }
                        for row in latest.values()
                    ]
                )
                excluded = statement.excluded
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[ratings.c.user_id, ratings.c.movie_id],
                        set_={
                            "rating": excluded.rating,
                            "timestamp": excluded.timestamp,
                            "stored_at": excluded.stored_at,
                        },
                    )
                )

    def delete(self, user_id: str, movie_id: str) -> bool:
        """Remove `user_id`'s rating of `movie_id`; False if there was none."""
        _check_id("user id", user_id)
        _check_id("movie id", movie_id)
        with self._writing() as connection:
            done = connection.execute(
                ratings.delete().where(
                    (ratings.c.user_id == user_id) & (ratings.c.movie_id == movie_id)
                )
            )
        return bool(done.rowcount)

    # -- reading ------------------------------------------------------------------------------

    def ratings_of(self, user_id: str) -> list[StoredRating]:
        """`user_id`'s stored ratings, oldest first (none for an unknown user)."""
        _check_id("user id", user_id)
        query = (
            select(ratings.c.user_id, ratings.c.movie_id, ratings.c.rating, ratings.c.timestamp)
            .where(ratings.c.user_id == user_id)
            .order_by(ratings.c.timestamp, ratings.c.stored_at, ratings.c.movie_id)
        )
        with self._reading() as connection:
            return [StoredRating(*row) for row in connection.execute(query)]

    def ratings_of_movies(self, movie_ids: Iterable[str]) -> list[StoredRating]:
        """Every stored rating of the given movies (the added ones a server refines), oldest
        first."""
        wanted = sorted(set(movie_ids))
        found: list[StoredRating] = []
        columns = (ratings.c.user_id, ratings.c.movie_id, ratings.c.rating, ratings.c.timestamp)
        with self._reading() as connection:
            for start in range(0, len(wanted), WRITE_BATCH):
                query = select(*columns).where(
                    ratings.c.movie_id.in_(wanted[start : start + WRITE_BATCH])
                )
                found += [StoredRating(*row) for row in connection.execute(query)]
        return sorted(found, key=lambda row: (row.timestamp, row.user_id, row.movie_id))

    def has_user(self, user_id: str) -> bool:
        """Whether `user_id` has ever written to the store."""
        _check_id("user id", user_id)
        query = select(users.c.user_id).where(users.c.user_id == user_id)
        with self._reading() as connection:
            return connection.execute(query).first() is not None

    def all_ratings(self, batch_size: int = 100_000) -> Iterator[list[StoredRating]]:
        """Every stored rating, in batches, by user and then time (for export and training)."""
        query = select(
            ratings.c.user_id, ratings.c.movie_id, ratings.c.rating, ratings.c.timestamp
        ).order_by(ratings.c.user_id, ratings.c.timestamp, ratings.c.movie_id)
        with self._reading() as connection:
            result = connection.execution_options(yield_per=batch_size).execute(query)
            for part in result.partitions(batch_size):
                yield [StoredRating(*row) for row in part]

    def ping(self) -> None:
        """Raise `StoreError` unless the store answers a query now (for health checks)."""
        with self._reading() as connection:
            connection.execute(select(func.count()).select_from(schema.meta)).scalar_one()

    def info(self) -> dict[str, Any]:
        """Where the store is, its schema version and its counts."""
        with self._reading() as connection:
            counts = connection.execute(
                select(
                    func.count(),
                    func.count(func.distinct(ratings.c.user_id)),
                    func.count(func.distinct(ratings.c.movie_id)),
                    func.min(ratings.c.timestamp),
                    func.max(ratings.c.timestamp),
                ).select_from(ratings)
            ).one()
            n_users = connection.execute(select(func.count()).select_from(users)).scalar_one()
            n_added = connection.execute(
                select(func.count()).select_from(movies).where(movies.c.added)
            ).scalar_one()
        return {
            "store": self.where,
            "backend": self.engine.dialect.name,
            "schema_version": SCHEMA_VERSION,
            "users": int(n_users),
            "users_with_ratings": int(counts[1]),
            "ratings": int(counts[0]),
            "movies_rated": int(counts[2]),
            "movies_added": int(n_added),
            "first_rating": counts[3],
            "last_rating": counts[4],
        }

    # -- plumbing -----------------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        insert = sqlite_insert if self.engine.dialect.name == "sqlite" else postgresql_insert
        return insert(table)

    def _writing(self) -> Any:
        """A transaction that commits on leaving the block (or rolls back on an error); on
        SQLite it takes the write lock up front."""
        return Transaction(self, write=True)

    def _reading(self) -> Any:
        """A read-only transaction: on SQLite in WAL mode it never waits for a writer."""
        return Transaction(self, write=False)

    def _migrate(self) -> None:
        with self.engine.begin() as connection:
            version = schema.stored_version(connection)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.where} has schema version {version}, written by a newer "
                    f"reelrank; this one reads up to {SCHEMA_VERSION}: upgrade reelrank"
                )
            if version == 0:
                others = set(self.engine.dialect.get_table_names(connection))
                if others:
                    raise StoreError(
                        f"{self.where} holds other tables ({', '.join(sorted(others)[:5])}), not "
                        "a reelrank store: choose an empty database or a new file with --store"
                    )
            for step in range(version, SCHEMA_VERSION):
                schema.MIGRATIONS[step](connection)
            if version != SCHEMA_VERSION:
                schema.metadata.create_all(connection, tables=[schema.meta])
                schema.set_version(connection, SCHEMA_VERSION)


def _now() -> int:
    return int(time.time())


def storable_id(value: object) -> bool:
    """Whether `value` can be a user or movie id in the store: 1 to `MAX_ID` characters, none of
    them a control character."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
    )


def _check_id(what: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise ReelrankError(f"a {what} must be 1 to {MAX_ID} characters, got {value!r:.60}")
    if not storable_id(value):
        raise ReelrankError(f"a {what} must be printable text, got {value!r:.60}")


def _checked(row: StoredRating) -> StoredRating:
    _check_id("user id", row.user_id)
    _check_id("movie id", row.movie_id)
    rating = float(row.rating)
    if not math.isfinite(rating):
        raise ReelrankError(f"a rating must be a finite number, got {row.rating!r}")
    return StoredRating(row.user_id, row.movie_id, rating, int(row.timestamp))
