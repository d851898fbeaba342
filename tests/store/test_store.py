"""The rating store, on SQLite and on a real PostgreSQL server: what is acknowledged is stored,
the same rating twice is one, hostile ids are refused or kept inert, and a store reelrank cannot
read is refused at open with a message that says what to do."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from reelrank.errors import ReelrankError, StoreError
from reelrank.store import RatingStore, StoredRating, default_store_path, store_url
from reelrank.store.schema import MAX_ID, SCHEMA_VERSION


def test_a_rating_is_stored_and_read_back(store_location: str) -> None:
    with RatingStore(store_location) as store:
        store.put("alice", "50", 4.0, timestamp=200)
        store.put("alice", "7", 2.5, timestamp=100)
        store.put("bob", "50", 5.0, timestamp=150)
        assert store.ratings_of("alice") == [
            StoredRating("alice", "7", 2.5, 100),
            StoredRating("alice", "50", 4.0, 200),
        ]
        assert store.ratings_of("nobody-here") == []
        assert store.has_user("bob") and not store.has_user("carol")
        info = store.info()
    assert (info["users"], info["ratings"], info["movies_rated"]) == (2, 3, 2)
    assert info["schema_version"] == SCHEMA_VERSION
    assert (info["first_rating"], info["last_rating"]) == (100, 200)
    with RatingStore(store_location) as again:  # it survives closing and reopening
        assert len(again.ratings_of("alice")) == 2


def test_the_same_rating_twice_is_one_and_the_latest_wins(store_location: str) -> None:
    with RatingStore(store_location) as store:
        store.put("alice", "50", 3.0, timestamp=100)
        store.put("alice", "50", 3.0, timestamp=100)
        assert store.info()["ratings"] == 1
        store.put("alice", "50", 5.0, timestamp=300)
        assert store.ratings_of("alice") == [StoredRating("alice", "50", 5.0, 300)]
        rows = [StoredRating("dan", "1", 1.0, 1), StoredRating("dan", "1", 4.0, 2)]
        assert store.put_many(rows) == 2
        assert store.ratings_of("dan") == [StoredRating("dan", "1", 4.0, 2)]


def test_a_write_without_a_time_is_dated_now(store_location: str) -> None:
    import time

    before = int(time.time())
    with RatingStore(store_location) as store:
        stored = store.put("alice", "50", 4.0)
        assert before <= stored.timestamp <= int(time.time())
        assert store.ratings_of("alice") == [stored]


def test_delete_removes_one_rating(store_location: str) -> None:
    with RatingStore(store_location) as store:
        store.put("alice", "50", 4.0, timestamp=1)
        store.put("alice", "7", 3.0, timestamp=2)
        assert store.delete("alice", "50") is True
        assert store.delete("alice", "50") is False
        assert [r.movie_id for r in store.ratings_of("alice")] == ["7"]


def test_many_rows_are_written_all_or_none(store_location: str) -> None:
    rows = [StoredRating("u", str(m), 3.0, m) for m in range(25_000)]  # several statements
    with RatingStore(store_location) as store:
        assert store.put_many(rows) == 25_000
        assert store.info()["ratings"] == 25_000
        bad = [StoredRating("v", "1", 3.0, 1), StoredRating("v", "2", float("nan"), 2)]
        with pytest.raises(ReelrankError, match="finite number"):
            store.put_many(bad)
        assert store.ratings_of("v") == []


@pytest.mark.parametrize(
    ("user_id", "problem"),
    [("", "1 to 128 characters"), ("x" * (MAX_ID + 1), "1 to 128"), ("a\x00b", "printable")],
)
def test_hostile_ids_are_refused(store_location: str, user_id: str, problem: str) -> None:
    with RatingStore(store_location) as store:
        with pytest.raises(ReelrankError, match=problem):
            store.put(user_id, "50", 4.0)
        with pytest.raises(ReelrankError, match=problem):
            store.ratings_of(user_id)
        assert store.info()["ratings"] == 0


def test_sql_in_an_id_is_only_text(store_location: str) -> None:
    sneaky = "1'); DROP TABLE ratings; --"
    with RatingStore(store_location) as store:
        store.put(sneaky, "50", 4.0, timestamp=1)
        store.put("alice", sneaky, 2.0, timestamp=1)
        assert store.ratings_of(sneaky) == [StoredRating(sneaky, "50", 4.0, 1)]
        assert store.ratings_of("alice")[0].movie_id == sneaky
        assert store.info()["ratings"] == 2


def test_a_store_of_a_newer_schema_is_refused(store_location: str) -> None:
    with RatingStore(store_location) as store, store.engine.begin() as connection:
        connection.execute(
            text("UPDATE reelrank_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(SCHEMA_VERSION + 1)},
        )
    with pytest.raises(StoreError, match=r"written by a newer reelrank.*upgrade reelrank"):
        RatingStore(store_location)


def test_a_database_of_other_tables_is_refused(store_location: str) -> None:
    with RatingStore(store_location) as store, store.engine.begin() as connection:
        connection.execute(text("DROP TABLE reelrank_meta"))
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    with pytest.raises(StoreError, match=r"holds other tables .*not a reelrank store"):
        RatingStore(store_location)


def test_a_corrupt_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(b"this is not a database, just bytes " * 200)
    with pytest.raises(StoreError, match="corrupt or not a reelrank store; move it aside"):
        RatingStore(path)
    assert path.read_bytes().startswith(b"this is not a database")  # left as it was


def test_an_unreachable_postgresql_server_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the store postgresql"):
        RatingStore("postgresql://nobody@/nothing?host=/nonexistent&port=1")


def test_sqlite_commits_durably_in_wal_mode(tmp_path: Path) -> None:
    with RatingStore(tmp_path / "s.sqlite3") as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_locations_and_the_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REELRANK_DATA_DIR", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "store.sqlite3"
    assert store_url(None) == f"sqlite:///{tmp_path / 'data' / 'store.sqlite3'}"
    assert store_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert store_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.chdir(tmp_path)
    assert store_url("mine.sqlite3") == f"sqlite:///{tmp_path / 'mine.sqlite3'}"
    with RatingStore() as store:  # the default store is made where the data dir says
        store.put("a", "1", 1.0)
    assert (tmp_path / "data" / "store.sqlite3").is_file()


def _write_many(location: str, writer: int) -> None:
    with RatingStore(location) as store:
        for n in range(150):
            store.put(f"user{writer}", str(n), 3.0, timestamp=n)


def test_two_processes_writing_one_sqlite_file_never_lock_each_other_out(tmp_path: Path) -> None:
    location = str(tmp_path / "shared.sqlite3")
    RatingStore(location).close()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(location, w)) for w in range(2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
    assert [p.exitcode for p in writers] == [0, 0]  # a "database is locked" would have raised
    with RatingStore(location) as store:
        assert store.info()["ratings"] == 300
    connection = sqlite3.connect(location)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()


def test_a_reader_never_waits_for_a_writer_on_sqlite(tmp_path: Path) -> None:
    import time

    path = tmp_path / "s.sqlite3"
    with RatingStore(path) as store:
        store.put("a", "1", 4.0, timestamp=1)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock, mid-write
        holder.execute("INSERT INTO users (user_id, created_at) VALUES ('b', 0)")
        start = time.perf_counter()
        assert store.ratings_of("a") == [StoredRating("a", "1", 4.0, 1)]
        assert time.perf_counter() - start < 2  # not the 30 s a writer would wait
        holder.execute("ROLLBACK")
        holder.close()
