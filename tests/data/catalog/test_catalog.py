"""The catalogue: user ids, MovieLens movie ids and typed titles to model indices and back."""

from __future__ import annotations

import numpy as np
import pytest

from reelrank.data.catalog.catalog import Catalog
from reelrank.data.encoding.encoded import MovieTable, Vocabularies
from reelrank.errors import ReelrankError, UnknownIdError
from reelrank.types import GENRES, Ratings


@pytest.fixture(scope="module")
def catalog(ratings: Ratings) -> Catalog:
    vocabs = Vocabularies.from_ratings(ratings)
    return Catalog(vocabs, MovieTable.from_ratings(ratings, vocabs.movies))


def test_ids_and_titles_resolve_to_the_same_row(catalog: Catalog, ratings: Ratings) -> None:
    title = str(ratings.movie_title[ratings.movie_id == "11"][0])
    row = catalog.resolve_movie("11")
    assert catalog.resolve_movie(title) == catalog.resolve_movie(title.lower()) == row
    assert catalog.movie_title(row) == title and catalog.movie_id(row) == "11"
    assert catalog.user_index("9") == catalog.users.number("9")


def test_info_reads_year_and_genres(catalog: Catalog, ratings: Ratings) -> None:
    first = int(np.flatnonzero(ratings.movie_id == "11")[0])
    info = catalog.movie_info("11")
    assert info.movie_title.endswith(f"({info.year})")
    assert info.genres == [
        g for g, on in zip(GENRES, ratings.movie_genres[first], strict=True) if on
    ]
    assert info.to_dict()["movie_id"] == "11"


def test_unknown_ids_and_bad_limits_say_what_to_do(catalog: Catalog) -> None:
    with pytest.raises(
        UnknownIdError, match=r"unknown movie id '99999': MovieLens ids here run 1\.\."
    ):
        catalog.resolve_movie("99999")
    with pytest.raises(UnknownIdError, match="unknown user_id 'nobody'"):
        catalog.user_index("nobody")
    with pytest.raises(ReelrankError, match="limit must be a positive integer"):
        catalog.search_movies("a", limit=0)


def test_a_table_that_does_not_fit_the_vocabulary_is_refused(ratings: Ratings) -> None:
    vocabs = Vocabularies.from_ratings(ratings)
    table = MovieTable.from_ratings(ratings, vocabs.movies)
    short = MovieTable(table.movie_id[:-1], table.genres[:-1], table.year[:-1], table.id_to_title)
    with pytest.raises(ValueError, match="the movie table has"):
        Catalog(vocabs, short)
