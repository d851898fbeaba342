"""`Interactions`: the encoded table every loader returns, and its round trip with `Ratings`."""

from __future__ import annotations

import numpy as np
import pytest

from reelrank.config import ExperimentConfig
from reelrank.data.encoding.encoded import EncodedRatings, MovieTable, Vocabularies
from reelrank.data.encoding.features import user_tables
from reelrank.data.interactions import Interactions, as_interactions, encode_ids
from reelrank.data.splits import split_ratings, split_rows
from reelrank.errors import ReelrankError
from reelrank.experiment.run import train_recommender
from reelrank.experiment.split import prepare
from reelrank.types import Ratings


def test_from_ratings_keeps_every_row(ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    assert len(data) == len(ratings)
    assert np.array_equal(data.user_ids[data.user], ratings.user_id)
    assert np.array_equal(data.movies.movie_id[data.movie], ratings.movie_id)
    assert np.array_equal(data.movies.title[data.movie], ratings.movie_title)
    assert np.array_equal(data.movies.genres[data.movie], ratings.movie_genres)
    assert data.users is not None
    assert np.array_equal(data.users.gender[data.user], ratings.user_gender)
    assert list(data.user_ids) == sorted(data.user_ids)  # sorted as strings, like Vocabulary
    assert data.summary() == ratings.summary()
    assert as_interactions(data) is data


def test_encode_ids_sorts_numbers_as_strings() -> None:
    words, codes = encode_ids(np.array([10, 9, 100, 9]))
    assert words.tolist() == ["10", "100", "9"]
    assert codes.tolist() == [0, 2, 1, 2]
    assert codes.dtype == np.int32
    words_s, codes_s = encode_ids(np.array(["10", "9", "100", "9"]))
    assert words_s.tolist() == words.tolist() and codes_s.tolist() == codes.tolist()


def test_fingerprint_follows_the_rows_not_the_loader(ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    again = Interactions.from_ratings(ratings.take(np.arange(len(ratings))))
    assert data.fingerprint() == again.fingerprint()
    assert data.take(np.arange(len(data) - 1)).fingerprint() != data.fingerprint()
    moved = ratings.take(np.r_[1, 0, np.arange(2, len(ratings))])
    assert Interactions.from_ratings(moved).fingerprint() != data.fingerprint()


def test_both_tables_encode_alike(ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    vocabs = Vocabularies.from_ratings(ratings)
    assert Vocabularies.from_ratings(data) == vocabs
    wide, narrow = EncodedRatings.encode(ratings, vocabs), EncodedRatings.encode(data, vocabs)
    assert np.array_equal(wide.user_idx, narrow.user_idx)
    assert np.array_equal(wide.movie_idx, narrow.movie_idx)
    a, b = (
        MovieTable.from_ratings(ratings, vocabs.movies),
        MovieTable.from_ratings(data, vocabs.movies),
    )
    assert np.array_equal(a.movie_id, b.movie_id) and a.id_to_title == b.id_to_title
    for spec in ("random:0.8", "fold:2", "temporal:0.8", "leave-last:2"):
        for x, y in zip(
            split_rows(ratings, spec, seed=3), split_rows(data, spec, seed=3), strict=True
        ):
            assert np.array_equal(x, y)
    tables = user_tables(ratings, vocabs, wide, max_history=4)
    for name, table in user_tables(data, vocabs, wide, max_history=4).items():
        assert np.array_equal(table, tables[name]), name


def test_movies_nobody_rated_stay_out_of_the_vocabulary(ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    train, _ = split_ratings(data, "random:0.5", seed=1)
    rated = np.unique(train.movie)
    assert Vocabularies.from_ratings(train).movies.size == len(rated) + 1


def test_views_without_ratings_or_times(ratings: Ratings) -> None:
    data = Interactions.from_ratings(ratings)
    views = Interactions(
        user_ids=data.user_ids,
        movies=data.movies,
        user=data.user,
        movie=data.movie,
        rating=np.ones(len(data), np.float32),
        timestamp=np.zeros(len(data), np.int64),
        explicit=False,
        timed=False,
    )
    with pytest.raises(ReelrankError, match="no timestamps"):
        split_rows(views, "temporal:0.8", seed=0)
    with pytest.raises(ReelrankError, match=r"has a rating model.*star ratings"):
        train_recommender(views, ExperimentConfig(preset="seed"))
    assert views.summary()["first_rating"] is None
    # Demographics are absent: every user's side features are "unknown" (0).
    split = prepare(views, ExperimentConfig(preset="seed"))
    tables = user_tables(views, split.vocabs, split.train, max_history=3)
    assert not tables["gender"].any() and not tables["occupation"].any()
