"""`StoredMovies`: movies added after training, and the operator's edits and takedowns, kept in the
rating store beside the ratings (`RatingStore.movies`).

A new movie gets the next free numeric id above the data set's (the caller says where those end),
chosen inside the write transaction, so two servers adding at once never share one. An edit of a
data set movie is a row too (`added` false): its title, genres or year where changed, or `hidden`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from reelrank.errors import ConflictError, ReelrankError
from reelrank.store.schema import MAX_OVERVIEW, MAX_TITLE, movies, ratings
from reelrank.types import GENRES

if TYPE_CHECKING:
    from reelrank.store.store import RatingStore

YEARS = (1870, 2100)  # the release years a movie may have (the first films to the far future)


@dataclass(frozen=True)
class StoredMovie:
    """A movie as the store keeps it: a new one (`added`), or the changes to a data set movie
    (its `title`, `genres`, `year` None where unchanged)."""

    movie_id: str
    added: bool
    title: str | None
    genres: tuple[str, ...] | None
    year: int | None
    overview: str | None = None
    hidden: bool = False
    created_at: int = 0
    updated_at: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "movie_id": self.movie_id,
            "added": self.added,
            "title": self.title,
            "genres": None if self.genres is None else list(self.genres),
            "year": self.year,
            "overview": self.overview,
            "hidden": self.hidden,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def check_title(title: str) -> str:
    """A movie title, trimmed: 1 to `MAX_TITLE` printable characters."""
    if not isinstance(title, str) or not title.strip():
        raise ReelrankError("a movie needs a title: give one of 1 to 256 characters")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise ReelrankError(f"a title must be at most {MAX_TITLE} characters, got {len(title)}")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in title):
        raise ReelrankError("a title must be printable text (no control characters)")
    return title


def check_genres(genres: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Genre names in any letter case -> `GENRES`' spelling, each once, in `GENRES` order."""
    known = {g.lower(): g for g in GENRES[1:]}  # GENRES[0] is "unknown", not a genre one picks
    unknown = [g for g in genres if not isinstance(g, str) or g.lower() not in known]
    if unknown:
        raise ReelrankError(f"unknown genre {unknown[0]!r}; choose from {', '.join(GENRES[1:])}")
    picked = {known[g.lower()] for g in genres}
    return tuple(g for g in GENRES if g in picked)


def check_year(year: int | None) -> int | None:
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int) or not YEARS[0] <= year <= YEARS[1]:
        raise ReelrankError(f"a release year must be a whole number in {YEARS[0]}..{YEARS[1]}")
    return year


def check_overview(overview: str | None) -> str | None:
    if overview is None:
        return None
    if not isinstance(overview, str) or len(overview) > MAX_OVERVIEW:
        raise ReelrankError(f"an overview must be text of at most {MAX_OVERVIEW} characters")
    return overview.strip() or None


class StoredMovies:
    """The movie table of one `RatingStore`."""

    def __init__(self, store: RatingStore) -> None:
        self._store = store

    def add(
        self,
        title: str,
        genres: list[str] | tuple[str, ...],
        year: int | None = None,
        *,
        overview: str | None = None,
        first_id: int = 1,
    ) -> StoredMovie:
        """Store a new movie; its id is the next number from `first_id` on (the data set's ids
        end below it) that no added movie has. A title already added (any letter case) is
        refused. Returns once it is committed."""
        title, year = check_title(title), check_year(year)
        picked, overview = check_genres(genres), check_overview(overview)
        now = int(time.time())
        with self._store._writing() as connection:
            rows = connection.execute(
                select(movies.c.movie_id, movies.c.title).where(movies.c.added)
            ).all()
            for movie_id, other in rows:
                if other is not None and other.lower() == title.lower():
                    raise ConflictError(
                        f"a movie titled {other!r} was added already (id {movie_id}); edit it "
                        "instead of adding it again"
                    )
            taken = [int(m) for m, _ in rows if m.isdigit()]
            movie_id = str(max([first_id - 1, *taken]) + 1)
            movie = StoredMovie(movie_id, True, title, picked, year, overview, False, now, now)
            connection.execute(movies.insert().values(**_row(movie)))
        return movie

    def edit(
        self,
        movie_id: str,
        *,
        title: str | None = None,
        genres: list[str] | tuple[str, ...] | None = None,
        year: int | None = None,
        overview: str | None = None,
        hidden: bool | None = None,
    ) -> StoredMovie:
        """Change a movie's title, genres, year or overview, or hide it (a takedown) or show it
        again; what is None stays. A data set movie's first edit creates its row."""
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = check_title(title)
        if genres is not None:
            changes["genres"] = check_genres(genres)
        if year is not None:
            changes["year"] = check_year(year)
        if overview is not None:
            changes["overview"] = check_overview(overview)
        if hidden is not None:
            changes["hidden"] = bool(hidden)
        now = int(time.time())
        with self._store._writing() as connection:
            found = connection.execute(select(movies).where(movies.c.movie_id == movie_id)).first()
            if found is None:
                movie = StoredMovie(movie_id, False, None, None, None, None, False, now, now)
                movie = replace(movie, **changes)
                connection.execute(movies.insert().values(**_row(movie)))
            else:
                movie = replace(_movie(found), **changes, updated_at=now)
                connection.execute(
                    movies.update().where(movies.c.movie_id == movie_id).values(**_row(movie))
                )
        return movie

    def fingerprint(self) -> tuple[int, ...]:
        """Changes when a movie is added, edited or taken down, or a rating of an added movie
        is written or deleted: a server polls it to serve what another one wrote."""
        added = select(movies.c.movie_id).where(movies.c.added)
        with self._store._reading() as connection:
            edits = connection.execute(
                select(func.count(), func.max(movies.c.updated_at)).select_from(movies)
            ).one()
            rated = connection.execute(
                select(func.count(), func.max(ratings.c.stored_at), func.sum(ratings.c.rating))
                .select_from(ratings)
                .where(ratings.c.movie_id.in_(added))
            ).one()
        counts = tuple(int(value or 0) for value in (*edits, rated[0], rated[1]))
        return (*counts, hash(float(rated[2] or 0)))

    def get(self, movie_id: str) -> StoredMovie | None:
        with self._store._reading() as connection:
            found = connection.execute(select(movies).where(movies.c.movie_id == movie_id)).first()
        return None if found is None else _movie(found)

    def all(self) -> list[StoredMovie]:
        """Every stored movie and edit, oldest first."""
        query = select(movies).order_by(movies.c.created_at, movies.c.movie_id)
        with self._store._reading() as connection:
            return [_movie(row) for row in connection.execute(query)]


def _row(movie: StoredMovie) -> dict[str, Any]:
    row = movie.to_dict()
    row["genres"] = None if movie.genres is None else "|".join(movie.genres)
    return row


def _movie(row: Any) -> StoredMovie:
    values = row._mapping
    genres = values["genres"]
    return StoredMovie(
        movie_id=values["movie_id"],
        added=bool(values["added"]),
        title=values["title"],
        genres=None if genres is None else tuple(g for g in genres.split("|") if g),
        year=values["year"],
        overview=values["overview"],
        hidden=bool(values["hidden"]),
        created_at=int(values["created_at"]),
        updated_at=int(values["updated_at"]),
    )
