import numpy as np

from reelrank.data.encoding.encoded import EncodedRatings, MovieTable, Vocabularies
from reelrank.data.encoding.features import history_table, movie_tables, user_tables
from reelrank.types import Ratings


def test_history_keeps_latest_movies_oldest_first() -> None:
    train = EncodedRatings(
        user_idx=np.array([1, 1, 1, 2]),
        movie_idx=np.array([10, 11, 12, 13]),
        rating=np.ones(4, dtype=np.float32),
        timestamp=np.array([3, 1, 2, 5]),
    )
    table = history_table(train, n_rows=3, max_history=2)
    assert table.tolist() == [[0, 0], [12, 10], [0, 13]]  # user 1 by time: 11, 12, 10


def test_tables_are_aligned_with_vocabularies(ratings: Ratings) -> None:
    vocabs = Vocabularies.from_ratings(ratings)
    train = EncodedRatings.encode(ratings, vocabs)
    users = user_tables(ratings, vocabs, train, max_history=5)
    assert users["gender"][0] == 0 and set(users["gender"][1:]) <= {1, 2}
    assert users["age"].shape == (vocabs.users.size,) and users["age"][1:].min() >= 1
    assert users["history"].shape == (vocabs.users.size, 5)
    movies = movie_tables(MovieTable.from_ratings(ratings, vocabs.movies), vocabs)
    assert movies["title_tokens"].shape[0] == vocabs.movies.size
    assert movies["title_tokens"][0].sum() == 0 and movies["title_tokens"][1].sum() > 0
    assert movies["genres"].dtype == np.float32 and movies["year"][1:].min() >= 1
