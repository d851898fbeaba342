import numpy as np

from reelrank.data.encoding.encoded import EncodedRatings, MovieTable, Vocabularies
from reelrank.types import Ratings


def test_encode_and_by_user_csr(ratings: Ratings) -> None:
    vocabs = Vocabularies.from_ratings(ratings)
    enc = EncodedRatings.encode(ratings, vocabs)
    assert enc.user_idx.min() >= 1 and enc.movie_idx.min() >= 1
    seen = enc.by_user(vocabs.users.size)
    indptr, movies, stars = seen.indptr, seen.movie_idx, seen.rating
    assert indptr[-1] == len(ratings) and indptr[1] == 0  # row 0 (unknown user) is empty
    user = vocabs.users.number("7")
    mine = ratings.user_id == "7"
    expected = set(vocabs.movies.numbers(ratings.movie_title[mine]).tolist())
    assert set(movies[indptr[user] : indptr[user + 1]].tolist()) == expected
    assert len(stars) == len(movies)
    assert np.array_equal(seen.movies_of(user), movies[indptr[user] : indptr[user + 1]])
    assert seen.n_users == vocabs.users.size


def test_catalog_keeps_lowest_id_per_title_and_years(ratings: Ratings) -> None:
    dup = ratings.take(np.arange(len(ratings)))
    # Give movie "2" the title of movie "1": one title, two ids (as MovieLens does for a few films).
    title_1 = dup.movie_title[dup.movie_id == "1"][0]
    dup.movie_title[dup.movie_id == "2"] = title_1
    vocabs = Vocabularies.from_ratings(dup)
    catalog = MovieTable.from_ratings(dup, vocabs.movies)
    row = vocabs.movies.number(title_1)
    assert catalog.movie_id[row] == "1"
    assert catalog.id_to_title["2"] == title_1
    assert catalog.year[row] == int(title_1[-5:-1])
    assert catalog.movie_id[0] == "" and catalog.genres.shape[0] == vocabs.movies.size
