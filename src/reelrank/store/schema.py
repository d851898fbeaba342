"""The store's tables, its schema version, and the migrations that bring an older store up to it.

One schema for SQLite and PostgreSQL, written with SQLAlchemy Core (parameterised statements
only). `reelrank_meta` holds the schema version; a store written by a newer reelrank is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
    select,
)

# The longest user or movie id the store keeps (the HTTP API refuses longer ones first).
MAX_ID = 128

SCHEMA_VERSION = 2

metadata = MetaData()

meta = Table(
    "reelrank_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(MAX_ID), primary_key=True),
    Column("created_at", BigInteger, nullable=False),  # seconds since 1970
)

ratings = Table(
    "ratings",
    metadata,
    Column("user_id", String(MAX_ID), ForeignKey("users.user_id"), primary_key=True),
    Column("movie_id", String(MAX_ID), primary_key=True),
    Column("rating", Float, nullable=False),
    Column("timestamp", BigInteger, nullable=False),  # when the person rated, seconds since 1970
    Column("stored_at", BigInteger, nullable=False),  # when the store took it
)


# The longest title, genre list and overview a movie may have.
MAX_TITLE = 256
MAX_GENRES = 512
MAX_OVERVIEW = 5000

# Movies added after training (`added`: true), and the operator's changes to the data set's
# movies: a new title, genres or year (NULL: unchanged) or a takedown (`hidden`).
movies = Table(
    "movies",
    metadata,
    Column("movie_id", String(MAX_ID), primary_key=True),
    Column("added", Boolean, nullable=False),
    Column("title", String(MAX_TITLE)),
    Column("genres", String(MAX_GENRES)),  # "|"-joined genre names
    Column("year", BigInteger),
    Column("overview", Text),
    Column("hidden", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)


def _create_v1(connection: Connection) -> None:
    metadata.create_all(connection, tables=[users, ratings])


def _add_movies(connection: Connection) -> None:
    metadata.create_all(connection, tables=[movies])


# MIGRATIONS[v] brings a store at version v to v + 1 (version 0: a store with no tables yet).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {0: _create_v1, 1: _add_movies}


def stored_version(connection: Connection) -> int:
    """The schema version recorded in the store (0 for an empty one)."""
    if not connection.dialect.has_table(connection, meta.name):
        return 0
    value = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
    found = value.scalar_one_or_none()
    return int(found) if found is not None else 0


def set_version(connection: Connection, version: int) -> None:
    """Record `version` as the store's schema version."""
    connection.execute(meta.delete().where(meta.c.key == "schema_version"))
    connection.execute(meta.insert().values(key="schema_version", value=str(version)))
