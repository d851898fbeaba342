"""The store's tables, its schema version, and the migrations that bring an older store up to it.

One schema for SQLite and PostgreSQL, written with SQLAlchemy Core (parameterised statements
only). `reelrank_meta` holds the schema version; a store written by a newer reelrank is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    ForeignKey,
    MetaData,
    String,
    Table,
    select,
)

# The longest user or movie id the store keeps (the HTTP API refuses longer ones first).
MAX_ID = 128

SCHEMA_VERSION = 1

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


def _create_v1(connection: Connection) -> None:
    metadata.create_all(connection, tables=[users, ratings])


# MIGRATIONS[v] brings a store at version v to v + 1 (version 0: a store with no tables yet).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {0: _create_v1}


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
