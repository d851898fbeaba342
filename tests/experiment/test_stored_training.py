"""Training on a data set and a rating store together (`reelrank train --store`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.data.encoding.encoded import Vocabularies
from reelrank.data.encoding.features import demographic_tables
from reelrank.data.interactions import as_interactions
from reelrank.experiment.stored import with_stored_ratings
from reelrank.recommender.recommender import Recommender
from reelrank.store import RatingStore
from reelrank.store.movies import StoredMovie
from reelrank.store.store import StoredRating
from reelrank.types import Ratings


def test_stored_ratings_join_replace_and_skip_unknown_movies(ratings: Ratings) -> None:
    base = as_interactions(ratings)
    user, movie = str(base.user_ids[base.user[0]]), str(base.movies.movie_id[base.movie[0]])
    other_movie = str(base.movies.movie_id[1])
    stored = [
        StoredRating(user, movie, 1.0, 2_000_000_000),  # replaces the data set's first rating
        StoredRating("web-newcomer", other_movie, 5.0, 2_000_000_001),  # a new user
        StoredRating("web-newcomer", "no-such-movie", 4.0, 2_000_000_002),  # left out
    ]
    merged, share = with_stored_ratings(ratings, stored)
    assert (share.read, share.added, share.replaced) == (3, 1, 1)
    assert (share.unknown_movies, share.new_users) == (1, 1)
    assert len(merged) == len(base) + 1
    pairs = {
        (str(merged.user_ids[u]), str(merged.movies.movie_id[m])): (r, t)
        for u, m, r, t in zip(
            merged.user, merged.movie, merged.rating, merged.timestamp, strict=True
        )
    }
    assert pairs[(user, movie)] == (1.0, 2_000_000_000)
    assert pairs[("web-newcomer", other_movie)] == (5.0, 2_000_000_001)
    # Every data-set rating but the replaced one is still there, on the same user and movie.
    before = {
        (str(base.user_ids[u]), str(base.movies.movie_id[m])): r
        for u, m, r in zip(base.user, base.movie, base.rating, strict=True)
    }
    del before[(user, movie)]
    assert all(pairs[key][0] == rating for key, rating in before.items())
    # Demographics follow their users; the newcomer's are unknown (0), not guessed.
    assert merged.users is not None
    old_at = np.searchsorted(merged.user_ids, base.user_ids)
    assert (merged.users.gender[old_at] == base.users.gender).all()  # type: ignore[union-attr]
    vocab = Vocabularies.from_ratings(merged)
    tables = demographic_tables(merged, vocab)
    newcomer = vocab.users.number("web-newcomer")
    assert tables["gender"][newcomer] == 0 and tables["age"][newcomer] == 0


def test_movies_added_to_the_store_join_the_movie_table(ratings: Ratings) -> None:
    base = as_interactions(ratings)
    taken = str(base.movies.title[0])
    movies = [
        StoredMovie("9001", True, "Brand New Film", ("Comedy", "Drama"), 2026),
        StoredMovie("0-first", True, taken, ("Drama",), None),  # a title the data set has
        StoredMovie("1", False, None, None, None, hidden=True),  # an edit: no new row
    ]
    stored = [StoredRating("1", "9001", 5.0, 2_000_000_000)]
    merged, share = with_stored_ratings(ratings, stored, movies)
    assert (share.new_movies, share.added, share.unknown_movies) == (2, 1, 0)
    ids = merged.movies.movie_id.tolist()
    assert ids == sorted(ids) and len(ids) == len(base.movies) + 2
    row = ids.index("9001")
    assert merged.movies.title[row] == "Brand New Film (2026)"
    assert merged.movies.genres[row].sum() == 2
    assert merged.movies.title[ids.index("0-first")] == f"{taken} [0-first]"
    # Every data set rating still names its own movie.
    before = base.movies.movie_id[base.movie]
    assert np.array_equal(merged.movies.movie_id[merged.movie[: len(base)]], before)
    assert merged.movies.movie_id[merged.movie[-1]] == "9001"


def test_train_with_a_store_learns_its_new_users(grouplens_dir: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store.sqlite3"
    with RatingStore(store_path) as store:
        movies = [str(m) for m in range(1, 9)]
        store.put_many(
            [StoredRating("web-newcomer", m, 5.0, 900_000_000 + i) for i, m in enumerate(movies)]
        )
    out = tmp_path / "model"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(grouplens_dir),
            "--store",
            str(store_path),
            "--epochs",
            "1",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["artifact"] == str(out)
    trained = Recommender.load(out)
    assert "web-newcomer" in trained.catalog.users
    assert trained.data_info["store"]["read"] == 8 and trained.data_info["store"]["new_users"] == 1
    # A file that is not a store is refused before training, in one line.
    (tmp_path / "notes.txt").write_text("not a database, just text " * 100)
    refused = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(grouplens_dir),
            "--store",
            str(tmp_path / "notes.txt"),
            "--out",
            str(tmp_path / "m2"),
        ],
    )
    assert refused.exit_code == 1 and "not a reelrank store" in refused.output
    assert not (tmp_path / "m2").exists()
