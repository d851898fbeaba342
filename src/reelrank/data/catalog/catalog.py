"""`Catalog`: who and what a trained model knows, looked up by the ids and titles people use.

The models see contiguous indices only; the catalogue turns a user id ("9"), a MovieLens movie id
("50") or a title typed any which way ("star wars") into those indices, and back into what a person
reads (id, title, year, genres).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from reelrank.data.catalog.titles import TitleMatcher, split_release_year
from reelrank.data.encoding.encoded import MovieTable, Vocabularies
from reelrank.data.encoding.vocabulary import Vocabulary
from reelrank.errors import ConflictError, ReelrankError, UnknownIdError
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

    def __init__(
        self,
        vocabs: Vocabularies,
        table: MovieTable,
        *,
        trained: int | None = None,
        hidden: np.ndarray | None = None,
    ) -> None:
        if len(table.movie_id) != vocabs.movies.size or len(table.genres) != vocabs.movies.size:
            raise ValueError(
                f"the movie table has {len(table.movie_id)} rows but the title vocabulary needs "
                f"{vocabs.movies.size}"
            )
        self.vocabs = vocabs
        self.table = table
        # Rows 0..trained-1 are the movies the models were trained on; rows from `trained` on
        # were added since (`changed`), and the models know them through `LiveMovies`.
        self.trained = vocabs.movies.size if trained is None else trained
        # [n+1] bool: movies taken down. They stay in the tables (people's ratings of them keep
        # their meaning) but no list, search or lookup by the public shows them.
        self.hidden = np.zeros(vocabs.movies.size, bool) if hidden is None else hidden
        shown = [
            "" if gone else title
            for title, gone in zip(vocabs.movies.terms.tolist(), self.hidden[1:], strict=True)
        ]
        self.titles = TitleMatcher(shown)
        # Movie rows by MovieLens id, for lookups like "50" -> "Star Wars (1977)".
        self._row_of_id = {
            movie_id: vocabs.movies.number(title, missing="unknown")
            for movie_id, title in table.id_to_title.items()
        }
        self._max_id = max((int(i) for i in self._row_of_id if i.isdigit()), default=0)
        # Each row's genre names, built once: every recommendation shows them.
        self._genres = [[GENRES[g] for g in np.flatnonzero(row)] for row in table.genres]

    def changed(
        self, added: Sequence[MovieInfo], edited: Mapping[int, MovieInfo], hidden: Sequence[int]
    ) -> Catalog:
        """This catalogue with `added` movies as new rows after the last (in order), the rows of
        `edited` showing their new title, year and genres, and the `hidden` rows taken down. The
        trained rows keep their indices, so the models still read them."""
        terms = self.movies.terms.tolist()
        movie_id = self.table.movie_id.tolist()
        genres, year = self.table.genres.copy(), self.table.year.copy()
        id_to_title = dict(self.table.id_to_title)
        for row, info in edited.items():
            old = terms[row - 1]
            terms[row - 1] = info.movie_title
            id_to_title.update({i: info.movie_title for i, t in id_to_title.items() if t == old})
            genres[row] = _genre_row(info.genres)
            year[row] = info.year or 0
        for info in added:
            terms.append(info.movie_title)
            movie_id.append(info.movie_id)
            id_to_title[info.movie_id] = info.movie_title
        new_genres = np.array([_genre_row(i.genres) for i in added], bool).reshape(-1, len(GENRES))
        new_years = np.array([info.year or 0 for info in added], np.int64)
        table = MovieTable(
            np.array(movie_id, dtype=str),
            np.concatenate([genres, new_genres]),
            np.concatenate([year, new_years]),
            id_to_title,
        )
        vocabs = replace(self.vocabs, movies=Vocabulary(terms, name=self.movies.name, ordered=True))
        gone = np.zeros(len(terms) + 1, bool)
        gone[np.asarray(hidden, dtype=np.int64)] = True
        return Catalog(vocabs, table, trained=self.trained, hidden=gone)

    def next_movie_id(self) -> int:
        """The first numeric movie id above every id this catalogue has (a new movie's)."""
        return self._max_id + 1

    def check_new_title(self, title: str, year: int | None, *, row: int = 0) -> str:
        """A new movie's catalogue title (`display_title`), or for the movie at `row` a new
        one; a `ConflictError` naming the movie that has it already."""
        shown = display_title(" ".join(title.split()), year)
        index = self.movies.number(shown, missing="unknown")
        if index and index != row:
            raise ConflictError(
                f"the catalogue has {shown!r} already (id {self.movie_id(index)}): edit that "
                "movie, or tell the new one apart by its year"
            )
        return shown

    def row_of_id(self, movie_id: str) -> int:
        """The model index of a MovieLens (or added) movie id, 0 if there is none."""
        return self._row_of_id.get(movie_id, 0)

    def is_hidden(self, index: int) -> bool:
        return bool(self.hidden[index])

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


def _genre_row(names: Sequence[str]) -> np.ndarray:
    row = np.zeros(len(GENRES), dtype=bool)
    row[[GENRES.index(name) for name in names]] = True
    return row


def display_title(title: str, year: int | None) -> str:
    """A new movie's catalogue title, MovieLens' way: "Name (Year)" where the year is known
    and the name does not end in a year already."""
    name, given = split_release_year(title)
    return title if year is None or given is not None else f"{name} ({year})"
