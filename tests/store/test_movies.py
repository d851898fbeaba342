"""The store's movie table: added movies get the next free id above the data set's, a title is
added once, edits and takedowns are kept, bad fields are refused, and an older store gains the
table when opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reelrank.errors import ReelrankError
from reelrank.store import RatingStore
from reelrank.store.schema import SCHEMA_VERSION


def test_added_movies_get_ids_above_the_data_sets(store_location: str) -> None:
    with RatingStore(store_location) as store:
        first = store.movies.add("Dune: Part Three", ["sci-fi", "DRAMA"], 2026, first_id=1683)
        second = store.movies.add("Another One", ["Comedy"], first_id=1683)
        assert (first.movie_id, second.movie_id) == ("1683", "1684")
        assert first.genres == ("Drama", "Sci-Fi") and first.year == 2026
        # A later data set may end higher: ids go on from there.
        assert store.movies.add("Third", ["Comedy"], first_id=5000).movie_id == "5000"
        assert store.info()["movies_added"] == 3
    with RatingStore(store_location) as again:
        assert [m.movie_id for m in again.movies.all()] == ["1683", "1684", "5000"]


def test_a_title_is_added_once(store_location: str) -> None:
    with RatingStore(store_location) as store:
        store.movies.add("Dune: Part Three", ["Drama"], first_id=10)
        with pytest.raises(ReelrankError, match=r"added already \(id 10\); edit it"):
            store.movies.add("  dune:   PART three ", ["Drama"], first_id=10)


def test_edits_and_takedowns_are_kept(store_location: str) -> None:
    with RatingStore(store_location) as store:
        added = store.movies.add("New Film", ["Drama"], 2026, first_id=10)
        store.movies.edit(added.movie_id, year=2027, overview="A film.")
        down = store.movies.edit("50", hidden=True)  # a data set movie's first edit
        assert (down.added, down.hidden, down.title, down.genres) == (False, True, None, None)
        store.movies.edit("50", hidden=False)
        kept = {m.movie_id: m for m in store.movies.all()}
    assert kept["10"].year == 2027 and kept["10"].overview == "A film."
    assert kept["10"].genres == ("Drama",) and kept["10"].title == "New Film"
    assert not kept["50"].hidden
    assert store.movies.get("nope") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": " "}, "needs a title"),
        ({"title": "x" * 300}, "at most 256"),
        ({"title": "bad\x00title"}, "printable"),
        ({"genres": ["Space Opera"]}, "unknown genre 'Space Opera'; choose from Action"),
        ({"year": 1500}, "release year must be a whole number in 1870..2100"),
        ({"year": True}, "release year"),
        ({"overview": "x" * 6000}, "at most 5000"),
    ],
)
def test_bad_fields_are_refused(store_location: str, fields: dict, message: str) -> None:
    values = {"title": "Fine", "genres": ["Drama"], "year": 2000, **fields}
    with RatingStore(store_location) as store:
        with pytest.raises(ReelrankError, match=message):
            store.movies.add(values.pop("title"), values.pop("genres"), **values)
        assert store.movies.all() == []


def test_a_version_1_store_gains_the_movie_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:  # what reelrank with schema version 1 wrote
        connection.executescript(
            """
            CREATE TABLE users (user_id VARCHAR(128) PRIMARY KEY, created_at BIGINT NOT NULL);
            CREATE TABLE ratings (user_id VARCHAR(128) REFERENCES users(user_id),
                movie_id VARCHAR(128), rating FLOAT NOT NULL, timestamp BIGINT NOT NULL,
                stored_at BIGINT NOT NULL, PRIMARY KEY (user_id, movie_id));
            CREATE TABLE reelrank_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(256) NOT NULL);
            INSERT INTO reelrank_meta VALUES ('schema_version', '1');
            INSERT INTO users VALUES ('alice', 1);
            INSERT INTO ratings VALUES ('alice', '50', 4.0, 10, 10);
            """
        )
    with RatingStore(path) as store:
        assert store.info()["schema_version"] == SCHEMA_VERSION == 2
        assert store.ratings_of("alice")[0].rating == 4.0
        assert store.movies.add("New", ["Drama"], first_id=2000).movie_id == "2000"
