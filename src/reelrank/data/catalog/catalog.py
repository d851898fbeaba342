"""`Catalog`: who and what a trained model knows, looked up by the ids and titles people use.

The models see contiguous indices only; the catalogue turns a user id ("9"), a MovieLens movie id
("50") or a title typed any which way ("star wars") into those indices, and back into what a person
reads (id, title, year, genres).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from reelrank.data.catalog.titles import TitleMatcher
from reelrank.data.encoding.encoded import MovieTable, Vocabularies
from reelrank.data.encoding.vocabulary import Vocabulary
from reelrank.errors import ReelrankError, UnknownIdError
from reelrank.types import GENRES


@dataclass(frozen=True)
class MovieInfo:
    """A catalogue entry as people see it."""

    movie_id: str
    movie_title: str
    year: int | None
    genres: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ListFilter:
    """What a list may hold: movies of any of `genres` (all when empty) released between
    `year_from` and `year_to` (inclusive; either may be None). Genre names match `GENRES` in any
    letter case. A filter nothing passes (a year range that ends before it starts) gives an empty
    list, as any filter that matches no movie does."""

    genres: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None

    def __post_init__(self) -> None:
        known = {g.lower(): g for g in GENRES}
        unknown = [g for g in self.genres if g.lower() not in known]
        if unknown:
            raise ReelrankError(
                f"unknown genre {unknown[0]!r}; choose from {', '.join(GENRES[1:])}"
            )
        object.__setattr__(self, "genres", tuple(known[g.lower()] for g in self.genres))

    @property
    def active(self) -> bool:
        return bool(self.genres) or self.year_from is not None or self.year_to is not None

    def blocked(self, table: MovieTable) -> np.ndarray:
        """`[b]` movie indices the filter leaves out (row 0, the unknown movie, not among them)."""
        keep = np.ones(len(table.movie_id), dtype=bool)
        if self.genres:
            columns = [GENRES.index(g) for g in self.genres]
            keep &= table.genres[:, columns].any(axis=1)
        year = table.year
        if self.year_from is not None:
            keep &= (year > 0) & (year >= self.year_from)
        if self.year_to is not None:
            keep &= (year > 0) & (year <= self.year_to)
        keep[0] = True
        return np.flatnonzero(~keep).astype(np.int64)


class Catalog:
    """The user-id and title vocabularies of a model and its movie table, with the lookups.

    Movie indices are title-vocabulary rows (`1..n`, 0 unknown); `table` holds each row's MovieLens
    id, genres and year, and every MovieLens id's title.
    """

    def __init__(self, vocabs: Vocabularies, table: MovieTable) -> None:
        if len(table.movie_id) != vocabs.movies.size or len(table.genres) != vocabs.movies.size:
            raise ValueError(
                f"the movie table has {len(table.movie_id)} rows but the title vocabulary needs "
                f"{vocabs.movies.size}"
            )
        self.vocabs = vocabs
        self.table = table
        self.titles = TitleMatcher(vocabs.movies.terms.tolist())
        # Movie rows by MovieLens id, for lookups like "50" -> "Star Wars (1977)".
        self._row_of_id = {
            movie_id: vocabs.movies.number(title, missing="unknown")
            for movie_id, title in table.id_to_title.items()
        }
        self._max_id = max((int(i) for i in self._row_of_id if i.isdigit()), default=0)
        # Each row's genre names, built once: every recommendation shows them.
        self._genres = [[GENRES[g] for g in np.flatnonzero(row)] for row in table.genres]

    @property
    def users(self) -> Vocabulary:
        return self.vocabs.users

    @property
    def movies(self) -> Vocabulary:
        return self.vocabs.movies

    @property
    def id_to_title(self) -> dict[str, str]:
        """Every MovieLens movie id's title (several ids can share one title)."""
        return self.table.id_to_title

    def user_index(self, user_id: str | int) -> int:
        """The model index of a user id; unknown ids raise `UnknownIdError` with close matches."""
        return self.users.number(str(user_id), missing="error")

    def movie_index(self, title: str) -> int:
        """The model index of a movie title, matched forgivingly (case, articles, missing year).

        Unknown titles raise `UnknownIdError` with close titles; ambiguous ones
        `AmbiguousTitleError` listing the candidates.
        """
        return self.titles.match(title)

    def resolve_movie(self, title_or_id: str | int) -> int:
        """The model index of a MovieLens movie id ("50") or a title (see `movie_index`)."""
        key = str(title_or_id).strip()
        row = self._row_of_id.get(key)
        if row:
            return row
        if key.isdigit():
            raise UnknownIdError(
                f"unknown movie id {key!r}: MovieLens ids here run 1..{self._max_id}"
            )
        return self.movie_index(key)

    def movie_title(self, index: int) -> str:
        return self.movies.term(index)

    def movie_id(self, index: int) -> str:
        return str(self.table.movie_id[index])

    def info(self, index: int) -> MovieInfo:
        """Id, title, year and genres of the movie at a model index."""
        year = int(self.table.year[index])
        return MovieInfo(
            movie_id=self.movie_id(index),
            movie_title=self.movie_title(index),
            year=year or None,
            genres=list(self._genres[index]),
        )

    def movie_info(self, title_or_id: str | int) -> MovieInfo:
        """Id, title, year and genres of a movie named by MovieLens id or title."""
        return self.info(self.resolve_movie(title_or_id))

    def search_movies(self, query: str, limit: int = 10) -> list[MovieInfo]:
        """Movies whose titles match a search-box query, best first (empty query: none)."""
        if limit <= 0:
            raise ReelrankError(f"limit must be a positive integer, got {limit}")
        return [self.info(entry.index) for entry in self.titles.search(query, limit)]
