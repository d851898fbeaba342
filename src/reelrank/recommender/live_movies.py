"""Movies added after training, served from the moment they are added (`LiveMovies`).

The models have no row for a new movie, so each gets what they would have given it:

- a **retrieval vector**, first from its content: `ContentMap`, a linear movie tower over title
  words, genres and age (years before the catalogue's newest film), fitted by ridge regression
  on the trained movies' vectors, so a new movie sits where trained movies like it sit; then
  **refined from its raters**, as users are folded in from their movies: the smallest change to
  the content vector after which each rater scores it as they score the movies they rated
  (`refine`). Every retrieval model is a dot product, so this works for all of them, and a new
  movie's score stands beside the trained movies' in one list;
- a **predicted rating**: the rating model's ratings of its nearest trained movies (by that
  vector), weighted by closeness, plus its own offset learned from its ratings, shrunk towards
  none while there are few.

A retrain (`reelrank train --store`) gives it trained rows of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from reelrank.data.catalog.titles import split_release_year

# Nearest trained movies a new movie's predicted rating comes from.
NEIGHBOURS = 20
# How many raters' worth of trust the content vector has: with this many raters the vector is
# halfway from its content towards what its raters say (`refine`). Chosen on validation (cold
# movies carved from the training rows) by benchmarks/cold_movies.py, from 0.03 to 3.
CONTENT_TRUST = 0.1
# How many ratings' worth of trust "no offset" has when a new movie's offset is learned.
OFFSET_SHRINKAGE = 5.0
# A title word is a feature when at least this many trained titles have it.
MIN_WORD_COUNT = 3
# Ridge strengths `ContentMap` chooses from, on trained movies held out of the fit.
RIDGE_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
# Age buckets (years before the newest trained film) a movie's release year falls in.
AGE_EDGES = (1, 2, 3, 5, 8, 12, 20, 30, 50)


class MovieRow(Protocol):
    """A movie as a store keeps it (`reelrank.store.movies.StoredMovie` is one): added after
    training, or the changes to a data set movie (None where unchanged), or taken down."""

    @property
    def movie_id(self) -> str: ...
    @property
    def added(self) -> bool: ...
    @property
    def title(self) -> str | None: ...
    @property
    def genres(self) -> tuple[str, ...] | None: ...
    @property
    def year(self) -> int | None: ...
    @property
    def hidden(self) -> bool: ...


class RatingRow(Protocol):
    """One stored rating (`reelrank.store.store.StoredRating` is one)."""

    @property
    def user_id(self) -> str: ...
    @property
    def movie_id(self) -> str: ...
    @property
    def rating(self) -> float: ...


_WORD = re.compile(r"[a-z0-9]+")


def title_words(title: str) -> list[str]:
    """The lower-cased words of a title's name (its year left out)."""
    return _WORD.findall(split_release_year(title)[0].lower())


class ContentFeatures:
    """A movie's content as numbers: its genres, its age bucket (or unknown) and its title words
    (each word's share; words of at least `MIN_WORD_COUNT` trained titles)."""

    def __init__(self, titles: Sequence[str], years: np.ndarray) -> None:
        counts: dict[str, int] = {}
        for title in titles:
            for word in set(title_words(title)):
                counts[word] = counts.get(word, 0) + 1
        kept = sorted(w for w, c in counts.items() if c >= MIN_WORD_COUNT)
        self.words = {w: i for i, w in enumerate(kept)}
        known = years[years > 0]
        self.newest = int(known.max()) if known.size else 0

    def __call__(self, titles: Sequence[str], genres: np.ndarray, years: np.ndarray) -> np.ndarray:
        """`[n, features]` of `[n]` titles, `[n, G]` genres and `[n]` years (0: unknown)."""
        n = len(titles)
        ages = np.where(years > 0, np.maximum(self.newest - years, 0), -1)
        age = np.zeros((n, len(AGE_EDGES) + 2))
        age[np.arange(n), np.where(ages < 0, len(AGE_EDGES) + 1, np.digitize(ages, AGE_EDGES))] = 1
        words = np.zeros((n, len(self.words)))
        for row, title in enumerate(titles):
            found = [self.words[w] for w in title_words(title) if w in self.words]
            if found:
                words[row, found] += 1.0 / len(found)
        return np.concatenate([np.asarray(genres, dtype=np.float64), age, words], axis=1)

    def for_similarity(self, x: np.ndarray) -> np.ndarray:
        """Features rows with each part (genres, age, title words) of unit length, the age at
        half: a cosine between two then weighs the parts alike, not by their widths."""
        genres = x.shape[1] - len(AGE_EDGES) - 2 - len(self.words)
        parts = np.split(x, [genres, genres + len(AGE_EDGES) + 2], axis=1)
        scaled = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in parts]
        scaled[1] *= 0.5
        return np.concatenate(scaled, axis=1)


class ContentMap:
    """A linear movie tower over content (`ContentFeatures`) -> a movie vector of the retrieval
    model's space, fitted by ridge regression on the trained movies (its strength chosen on a
    seeded tenth of them held out)."""

    def __init__(
        self, titles: Sequence[str], genres: np.ndarray, years: np.ndarray, vectors: Tensor
    ) -> None:
        """`titles` `[n]`, `genres` `[n, G]` bool and `years` `[n]` (0: unknown) of the trained
        movies, and their `[n, dim]` vectors."""
        self.features = ContentFeatures(titles, years)
        x = self.features(titles, genres, years)
        # Row 0 (the unknown movie) first, as the trained vectors have it.
        self.trained_features = np.concatenate([np.zeros((1, x.shape[1])), x])
        y = vectors.detach().double().cpu().numpy()
        self.alpha = self._choose_alpha(x, y)
        self.mean_x, self.mean_y = x.mean(axis=0), y.mean(axis=0)
        self.weights = _ridge(x - self.mean_x, y - self.mean_y, self.alpha)
        self.dtype, self.device = vectors.dtype, vectors.device

    def vectors(self, titles: Sequence[str], genres: np.ndarray, years: np.ndarray) -> Tensor:
        """`[n, dim]` content vectors of movies the model never saw."""
        x = self.features(titles, genres, years) - self.mean_x
        out = x @ self.weights + self.mean_y
        return torch.from_numpy(out).to(dtype=self.dtype, device=self.device)

    @staticmethod
    def _choose_alpha(x: np.ndarray, y: np.ndarray) -> float:
        rng = np.random.default_rng(0)
        held = rng.random(len(x)) < 0.1
        if held.sum() < 2 or (~held).sum() < 2:
            return RIDGE_GRID[len(RIDGE_GRID) // 2]
        fit_x, fit_y = x[~held], y[~held]
        mean_x, mean_y = fit_x.mean(axis=0), fit_y.mean(axis=0)
        errors = []
        for alpha in RIDGE_GRID:
            weights = _ridge(fit_x - mean_x, fit_y - mean_y, alpha)
            guess = (x[held] - mean_x) @ weights + mean_y
            errors.append(float(((guess - y[held]) ** 2).sum()))
        return RIDGE_GRID[int(np.argmin(errors))]


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    gram = x.T @ x + alpha * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ y)


def refine(
    content: Tensor, queries: Tensor, targets: Tensor, trust: float = CONTENT_TRUST
) -> Tensor:
    """A new movie's vector from its `[dim]` content vector and its raters' `[r, dim]` queries:
    the vector closest to `content` after which each rater's score rises to their `[r]` target
    (the score their own rated movies get; a score above it stays), as far as `trust` lets the
    content hold it back:

        v = argmin ||v - content||^2 + sum_r (q_r . v - t_r)^2 / (trust * mean_r ||q_r||^2)

    With no raters it is the content vector; the more raters, the more theirs. (Also keeping
    its mean score over everyone where its content put it, so that its first raters would say
    who watches it but not how many, was tried and lost on validation: docs/benchmarks.md.)"""
    if not trust > 0:
        raise ValueError(f"trust must be above 0, got {trust}")
    if not len(queries):
        return content
    q, c = queries.double(), content.double()
    # A rating says its rater watched the movie: never evidence that they were less likely to
    # than its content said, so a rater the content already scores above their target stays.
    t = torch.maximum(targets.double(), q @ c)
    scale = trust * float((q * q).sum(dim=1).mean())
    gram = q @ q.T + scale * torch.eye(len(q), dtype=q.dtype, device=q.device)
    step = torch.linalg.solve(gram, t - q @ c)
    return (c + q.T @ step).to(content.dtype)


@dataclass(frozen=True)
class LiveMovies:
    """What the models know of the movies added after training (catalogue rows `first`
    onwards): their `[m, dim]` retrieval vectors, their `[m, K]` nearest trained movies with
    their `[m, K]` weights (summing to 1), and the `[m]` offsets of their predicted ratings."""

    first: int
    vectors: Tensor
    neighbours: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray

    @property
    def size(self) -> int:
        return len(self.vectors)

    def rate(
        self,
        users: np.ndarray,
        movies: np.ndarray,
        predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
        scale: tuple[float, float],
    ) -> np.ndarray:
        """Predicted ratings of `[...]` (user, movie) pairs (`predict` rates trained movies):
        a new movie as its nearest trained movies are rated, weighted, plus its offset, on the
        `scale`."""
        movies = np.broadcast_to(movies, users.shape)
        new = movies >= self.first
        out = np.empty(users.shape, dtype=np.float32)
        out[~new] = predict(users[~new], movies[~new])
        rows = movies[new] - self.first
        who, neighbours = users[new], self.neighbours[rows]
        people, person = np.unique(who, return_inverse=True)
        needed, place = np.unique(neighbours, return_inverse=True)
        if len(people) * len(needed) <= len(who) * neighbours.shape[1]:
            # Many new movies for few people (a list): each rates every neighbour once.
            grid = predict(people[:, None], needed[None, :])
            around = grid[person[:, None], place.reshape(neighbours.shape)]
        else:
            around = predict(who[:, None], neighbours)
        rated = (around * self.weights[rows]).sum(axis=1) + self.offsets[rows]
        out[new] = np.clip(rated, *scale)  # an offset never rates off the scale
        return out

    def merged(
        self, queries: Tensor, top: Tensor, rows: Tensor, exclude: list[np.ndarray], n: int
    ) -> tuple[Tensor, Tensor]:
        """An index's `[q, n]` best (`top` scores, `rows`) for `[q, dim]` queries, with the new
        movies among them where they score higher (each row's `exclude`d ones left out)."""
        added = queries @ self.vectors.T
        for row, movies in enumerate(exclude):
            gone = torch.from_numpy(movies[movies >= self.first] - self.first).to(added.device)
            added[row, gone] = float("-inf")
        new_rows = torch.arange(self.first, self.first + self.size, device=added.device)
        top = torch.cat([top, added], dim=1)
        rows = torch.cat([rows, new_rows.expand_as(added)], dim=1)
        top, at = torch.topk(top, min(n, top.shape[1]), dim=1)
        return top, torch.gather(rows, 1, at).masked_fill(top == float("-inf"), -1)

    def proxy(self, rows: np.ndarray) -> np.ndarray:
        """Each row as the models can read it: a trained row as it is, a new movie as its
        nearest trained movie (a fold-in of a history that holds new movies)."""
        rows = np.asarray(rows, dtype=np.int64)
        new = rows >= self.first
        out = rows.copy()
        out[new] = self.neighbours[rows[new] - self.first, 0]
        return out


def nearest(pairs: Sequence[tuple[Tensor, Tensor]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """For `m` new movies, the `k` closest trained movies (row 0, the unknown movie, never) and
    their weights, by the sum of cosines over `pairs` of (`[m, d]` new, `[n, d]` trained)
    descriptions (content features, retrieval vectors): the positive sums, normalised to sum to
    1 (equal weights where none is positive)."""
    total: Tensor | None = None
    for new, trained in pairs:
        a = torch.nn.functional.normalize(new.float(), dim=1)
        b = torch.nn.functional.normalize(trained.float(), dim=1)
        total = a @ b.T if total is None else total + a @ b.T
    assert total is not None
    total[:, 0] = float("-inf")
    top, rows = torch.topk(total, min(k, total.shape[1] - 1), dim=1)
    weights = top.clamp(min=0).double().cpu().numpy()
    sums = weights.sum(axis=1, keepdims=True)
    even = np.full_like(weights, 1.0 / weights.shape[1])
    weights = np.where(sums > 0, weights / np.where(sums > 0, sums, 1.0), even)
    return rows.cpu().numpy(), weights
