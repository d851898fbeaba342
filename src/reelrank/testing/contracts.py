"""The contract every model passes, as LensKit ships its component tests: a model's own test
describes how to build it (`Subject`) and runs `RATING_CHECKS` or `RETRIEVAL_CHECKS` on it.

Each check is a plain function of a `Subject` that raises `AssertionError` naming what broke, so
any test runner (or none) can run it. What every caller of a model relies on:

- the unknown user and the unknown movie (index 0) get finite scores, and the unknown movie never
  wins a retrieval top-k;
- a safetensors round trip, rebuilt from the state alone, gives identical scores;
- the seed alone decides the weights (whatever the global RNG holds), and another seed gives
  other weights for a learned model;
- rating models rate the same way through `forward`, `rate`, `rate_grid` and `predict`, stay
  within the rating scale outside training, and see raw values while training;
- retrieval models fold in any history of known movies into one query, and refuse one without
  a known movie with the same clear error.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from reelrank.models.rating.base import RatingModel
from reelrank.models.retrieval.base import RetrievalModel

M = TypeVar("M", RatingModel, RetrievalModel)


@dataclass(frozen=True)
class Subject(Generic[M]):
    """A model under test: `build(seed)` makes a fresh one (fitted, for closed-form models) and
    `rebuild(state)` one from a saved state dict alone, as an artifact does. `learned` says
    whether its weights depend on the seed."""

    build: Callable[[int], M]
    rebuild: Callable[[dict[str, Tensor]], M]
    n_users: int
    n_movies: int
    learned: bool = True

    def model(self, seed: int = 0) -> M:
        return self.build(seed).eval()

    def all_pairs(self) -> tuple[Tensor, Tensor]:
        """Every (user, movie) index pair, the unknown ones (0) included."""
        users, movies = torch.meshgrid(
            torch.arange(self.n_users + 1), torch.arange(self.n_movies + 1), indexing="ij"
        )
        return users.flatten(), movies.flatten()


def saved_and_rebuilt(subject: Subject[M], model: M) -> M:
    """`model` written to safetensors, read back and rebuilt by `subject.rebuild`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights.safetensors"
        save_file(model.state_dict(), str(path))
        return subject.rebuild(load_file(str(path))).eval()


# ---- every model ----


def unknown_ids_get_finite_scores(subject: Subject[M]) -> None:
    model = subject.model()
    users, movies = subject.all_pairs()
    with torch.no_grad():
        scores = model(users, movies)
    assert scores.shape == users.shape, f"forward gave shape {tuple(scores.shape)}"
    assert torch.isfinite(scores).all(), "a score of the unknown user or movie is not finite"


def round_trip_gives_identical_scores(subject: Subject[M]) -> None:
    model = subject.model()
    loaded = saved_and_rebuilt(subject, model)
    assert type(loaded) is type(model), f"rebuilt a {type(loaded).__name__}"
    users, movies = subject.all_pairs()
    with torch.no_grad():
        assert torch.equal(loaded(users, movies), model(users, movies)), "scores changed"
    if isinstance(model, RetrievalModel):
        assert isinstance(loaded, RetrievalModel)
        everyone = torch.arange(subject.n_users + 1)
        assert torch.equal(loaded.score_all(everyone), model.score_all(everyone))
        history = torch.tensor([4, 1, 7]).clamp(max=subject.n_movies)
        assert torch.equal(loaded.fold_in(history), model.fold_in(history))


def the_seed_alone_decides_the_weights(subject: Subject[M]) -> None:
    torch.manual_seed(1234)  # the global generator must not matter
    first = subject.build(7)
    torch.manual_seed(99)
    second = subject.build(7)
    a = dict(first.named_buffers()) | dict(first.named_parameters())  # non-persistent too
    b = dict(second.named_buffers()) | dict(second.named_parameters())
    assert a.keys() == b.keys(), "the same seed built different tensors"
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs between builds of one seed"
    if subject.learned:
        other = dict(subject.build(8).named_parameters())
        assert any(not torch.equal(other[n], a[n]) for n in other), "another seed, same weights"


# ---- rating models ----

_PAIRS = (torch.tensor([1, 2, 0, 5, 3]), torch.tensor([3, 0, 4, 2, 1]))


def _pairs(subject: Subject[RatingModel]) -> tuple[Tensor, Tensor]:
    users, movies = _PAIRS
    return users.clamp(max=subject.n_users), movies.clamp(max=subject.n_movies)


def rates_the_same_every_way(subject: Subject[RatingModel]) -> None:
    model = subject.model()
    users, movies = _pairs(subject)
    with torch.no_grad():
        out = model(users, movies)
        vectors = model.user_vectors(users)
        torch.testing.assert_close(model.rate(vectors, movies), out)
        grid = model.rate_grid(vectors, torch.arange(subject.n_movies + 1))
    assert grid.shape == (len(users), subject.n_movies + 1), "rate_grid's shape"
    picked = grid[torch.arange(len(users)), movies]
    torch.testing.assert_close(picked, out, rtol=1e-5, atol=1e-5)
    predicted = model.predict(users.numpy(), movies.numpy(), batch_size=2)
    np.testing.assert_allclose(predicted, out.numpy(), rtol=1e-5, atol=1e-5)
    assert model.typical_user().shape == (vectors.shape[1],), "typical_user's shape"


def ratings_stay_within_the_scale(subject: Subject[RatingModel]) -> None:
    model = subject.model()
    low, high = (float(x) for x in model.rating_scale)
    with torch.no_grad():
        unknown = model(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0]))
        typical = model.rate(model.typical_user().expand(3, -1), torch.tensor([1, 2, 0]))
    for out in (unknown, typical):
        assert torch.isfinite(out).all(), "a rating is not finite"
        assert ((out >= low) & (out <= high)).all(), f"a rating outside {low}..{high}"


def ratings_are_clipped_outside_training_only(subject: Subject[RatingModel]) -> None:
    model = subject.model()
    model.set_rating_scale(2.9, 3.0)  # narrower than anything the model predicts
    users, movies = _pairs(subject)
    with torch.no_grad():
        clipped = model(users, movies)
        grid = model.rate_grid(model.user_vectors(users), torch.arange(subject.n_movies + 1))
        model.train()
        raw = model(users, movies)
    assert ((clipped >= 2.9) & (clipped <= 3.0)).all(), "forward is not clipped"
    assert ((grid >= 2.9) & (grid <= 3.0)).all(), "rate_grid is not clipped"
    assert not ((raw >= 2.9) & (raw <= 3.0)).all(), "training must see the raw values"


# ---- retrieval models ----


def the_unknown_movie_never_wins(subject: Subject[RetrievalModel]) -> None:
    model = subject.model()
    users = torch.arange(subject.n_users + 1)
    everything = model.score_all(users)
    assert everything.shape == (subject.n_users + 1, subject.n_movies + 1), "score_all's shape"
    assert torch.all(everything[:, 0] == float("-inf")), "the unknown movie must score -inf"
    assert torch.isfinite(everything[:, 1:]).all(), "a known movie's score is not finite"
    top = torch.topk(everything, subject.n_movies, dim=1).indices
    assert not (top == 0).any(), "the unknown movie entered a top-k"
    assert model.score_history(torch.tensor([1, 2]))[0] == float("-inf")


def fold_in_without_a_known_movie_is_a_clear_error(subject: Subject[RetrievalModel]) -> None:
    model = subject.model()
    for history in ([], [0], [0, 0]):
        try:
            model.fold_in(torch.tensor(history, dtype=torch.long))
        except ValueError as error:
            assert "fold_in needs at least one known movie" in str(error), str(error)
        else:
            raise AssertionError(f"fold_in({history}) did not refuse a history of no known movie")


def fold_in_of_known_movies_gives_one_query(subject: Subject[RetrievalModel]) -> None:
    model = subject.model()
    query = model.fold_in(torch.tensor([0, 3, 5]).clamp(max=subject.n_movies))
    dim = model.all_movie_embeddings().shape[1]
    assert query.shape == (dim,), f"fold_in gave shape {tuple(query.shape)}, not ({dim},)"
    assert torch.isfinite(query).all() and not query.requires_grad


def fold_in_each_is_fold_in_of_each_movie(subject: Subject[RetrievalModel]) -> None:
    model = subject.model()
    movies = torch.tensor([3, 1, 3, 6]).clamp(max=subject.n_movies)
    expected = torch.stack([model.fold_in(m[None]) for m in movies])
    torch.testing.assert_close(model.fold_in_each(movies), expected, rtol=1e-4, atol=1e-5)
    assert model.fold_in_each(torch.zeros(0, dtype=torch.long)).shape[0] == 0
    try:
        model.fold_in_each(torch.tensor([2, 0]))
    except ValueError as error:
        assert "known movies only" in str(error), str(error)
    else:
        raise AssertionError("fold_in_each accepted the unknown movie")


COMMON_CHECKS = (
    unknown_ids_get_finite_scores,
    round_trip_gives_identical_scores,
    the_seed_alone_decides_the_weights,
)
RATING_CHECKS: tuple[Callable[[Subject[RatingModel]], None], ...] = (
    *COMMON_CHECKS,
    rates_the_same_every_way,
    ratings_stay_within_the_scale,
    ratings_are_clipped_outside_training_only,
)
RETRIEVAL_CHECKS: tuple[Callable[[Subject[RetrievalModel]], None], ...] = (
    *COMMON_CHECKS,
    the_unknown_movie_never_wins,
    fold_in_without_a_known_movie_is_a_clear_error,
    fold_in_of_known_movies_gives_one_query,
    fold_in_each_is_fold_in_of_each_movie,
)


def check_rating_model(subject: Subject[RatingModel]) -> None:
    """Run every rating-model check on `subject`."""
    for check in RATING_CHECKS:
        check(subject)


def check_retrieval_model(subject: Subject[RetrievalModel]) -> None:
    """Run every retrieval-model check on `subject`."""
    for check in RETRIEVAL_CHECKS:
        check(subject)
