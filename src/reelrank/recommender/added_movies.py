"""`grow`: a trained `Recommender` serving the store's movie table (`Recommender.with_movies`).

The store's rows become catalogue changes (new rows, edits, takedowns); each added movie gets its
retrieval vector (content, refined by its raters), its nearest trained movies and its rating
offset (`live_movies`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from reelrank.data.catalog.catalog import Catalog, MovieInfo, display_title
from reelrank.recommender.explanations import liked_mask
from reelrank.recommender.live_movies import (
    CONTENT_TRUST,
    NEIGHBOURS,
    OFFSET_SHRINKAGE,
    ContentFeatures,
    ContentMap,
    LiveMovies,
    MovieRow,
    RatingRow,
    nearest,
    refine,
)

if TYPE_CHECKING:
    from reelrank.recommender.recommender import Recommender


@torch.no_grad()
def grow(
    trained: Recommender,
    movies: Sequence[MovieRow],
    ratings: Sequence[RatingRow],
    histories: Mapping[str, Sequence[RatingRow]],
    *,
    trust: float = CONTENT_TRUST,
) -> Recommender:
    """`trained` with the store's `movies` (see `Recommender.with_movies`)."""
    catalog = catalog_with(trained.catalog, movies)
    first, size = trained.catalog.trained, catalog.movies.size
    if size == first:
        return trained._grown(catalog, None, np.zeros(0))
    titles = catalog.movies.terms[first - 1 :].tolist()
    genres, years = catalog.table.genres[first:], catalog.table.year[first:]
    by_movie: dict[int, list[RatingRow]] = defaultdict(list)
    for rating in ratings:
        row = catalog.row_of_id(rating.movie_id)
        if row >= first:
            by_movie[row - first].append(rating)
    counts = np.array([len(by_movie[i]) for i in range(size - first)], dtype=np.int64)
    space = trained_vectors(trained)
    mapping = content_map(trained, space)
    content = mapping.vectors(titles, genres, years)
    raters = Raters(trained, catalog, space, histories)
    vectors = torch.stack(
        [refine(content[i], *raters.queries(by_movie[i]), trust) for i in range(size - first)]
    )
    # Nearest by what the movie is (its content) and by whom it draws (its vector).
    features = mapping.features
    described = torch.from_numpy(features.for_similarity(features(titles, genres, years)))
    known = torch.from_numpy(features.for_similarity(mapping.trained_features))
    neighbours, weights = nearest([(described, known), (vectors, space)], NEIGHBOURS)
    offsets = np.zeros(size - first)
    live = LiveMovies(first, vectors, neighbours, weights, offsets)
    if trained.rater is not None:
        grown = trained._grown(catalog, live, counts)
        for i, rated in by_movie.items():
            if rated:
                users = np.array([raters.user_index(r.user_id) for r in rated])
                guess = grown._predict(users, np.full(len(users), first + i))
                stars = np.array([r.rating for r in rated])
                offsets[i] = (stars - guess).sum() / (len(rated) + OFFSET_SHRINKAGE)
    return trained._grown(catalog, live, counts)


def catalog_with(catalog: Catalog, movies: Sequence[MovieRow]) -> Catalog:
    """`catalog` with the store's movies: added ones it lacks as new rows, the rest's stored
    changes as edits, and takedowns hidden."""
    added: list[MovieInfo] = []
    edited: dict[int, MovieInfo] = {}
    hidden: list[int] = []
    titles = set(catalog.movies.terms.tolist())
    for movie in movies:
        row = catalog.row_of_id(movie.movie_id)
        if row:
            if movie.title is not None or movie.genres is not None or movie.year is not None:
                was = catalog.info(row)
                year = movie.year if movie.year is not None else was.year
                title = display_title(movie.title, year) if movie.title else was.movie_title
                if title != was.movie_title and title in titles:
                    title = was.movie_title  # another movie has it: the edit keeps its name
                titles.add(title)
                edited[row] = MovieInfo(
                    was.movie_id,
                    title,
                    year,
                    list(movie.genres) if movie.genres is not None else was.genres,
                )
        elif movie.added and movie.title is not None:
            title = display_title(movie.title, movie.year)
            if title in titles:  # the data set has a film of that name: the id tells them apart
                title = f"{title} [{movie.movie_id}]"
            titles.add(title)
            genres = list(movie.genres or ())
            added.append(MovieInfo(movie.movie_id, title, movie.year, genres))
            row = catalog.trained + len(added) - 1
        else:
            continue  # an edit of a movie this model does not have
        if movie.hidden:
            hidden.append(row)
    return catalog.changed(added, edited, hidden)


def trained_vectors(trained: Recommender) -> Tensor:
    """`[n, dim]` the trained movies' vectors (row 0: unknown): the retrieval model's, or,
    without one, their content features (which movies the rating model reads as neighbours)."""
    if trained.retrieval is not None:
        return trained.retrieval.all_movie_embeddings().detach()
    catalog = trained.catalog
    titles = ["", *catalog.movies.terms.tolist()[: catalog.trained - 1]]
    genres, years = catalog.table.genres[: catalog.trained], catalog.table.year[: catalog.trained]
    return torch.from_numpy(ContentFeatures(titles[1:], years[1:])(titles, genres, years)).float()


def content_map(trained: Recommender, space: Tensor) -> ContentMap:
    """The trained recommender's `ContentMap`, fitted once (`space`: its movie vectors)."""
    cached: ContentMap | None = getattr(trained, "_content_map", None)
    if cached is None:
        catalog, n = trained.catalog, trained.catalog.trained
        titles = catalog.movies.terms.tolist()[: n - 1]
        cached = ContentMap(titles, catalog.table.genres[1:n], catalog.table.year[1:n], space[1:])
        trained._content_map = cached  # type: ignore[attr-defined]
    return cached


class Raters:
    """Who rated an added movie, as the retrieval model sees them: a query vector each, and the
    score their own rated movies get from it (what a movie they rated should score)."""

    def __init__(
        self,
        trained: Recommender,
        catalog: Catalog,
        space: Tensor,
        histories: Mapping[str, Sequence[RatingRow]],
    ) -> None:
        self.trained, self.catalog, self.space, self.histories = trained, catalog, space, histories

    def user_index(self, user_id: str) -> int:
        """The model index of a rater the data set knows, else 0 (a typical user)."""
        return self.catalog.users.number(user_id, missing="unknown")

    def queries(self, rated: Sequence[RatingRow]) -> tuple[Tensor, Tensor]:
        """`[r, dim]` queries and `[r]` targets of the raters of `rated` who have a history the
        model can read (a rater with none is left out)."""
        dim = self.space.shape[1]
        retrieval = self.trained.retrieval
        found: list[tuple[Tensor, Tensor]] = []
        for rating in rated if retrieval is not None else ():
            assert retrieval is not None
            user = self.user_index(rating.user_id)
            if user:
                query = retrieval.user_embedding(torch.tensor([user]))[0]
                history = self.trained.seen.movies_of(user)
            else:
                history = self._stored_history(rating.user_id)
                if not len(history):
                    continue
                query = retrieval.fold_in(torch.from_numpy(history))
            found.append((query, (self.space[history] @ query).mean()))
        if not found:
            return self.space.new_zeros(0, dim), self.space.new_zeros(0)
        return torch.stack([q for q, _ in found]), torch.stack([t for _, t in found])

    def _stored_history(self, user_id: str) -> np.ndarray:
        """The trained movies a store-only user liked (their whole history where none is)."""
        rows, stars = [], []
        for row in self.histories.get(user_id, ()):
            index = self.catalog.row_of_id(row.movie_id)
            if 0 < index < self.catalog.trained:
                rows.append(index)
                stars.append(row.rating)
        if not rows:
            return np.zeros(0, dtype=np.int64)
        liked = liked_mask(np.array(stars), self.trained.rating_scale)
        return np.array(rows, dtype=np.int64)[liked if liked.any() else slice(None)]
