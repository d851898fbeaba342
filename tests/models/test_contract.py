"""The contract every model passes (LensKit's shared suite): unknown user, unknown
movie, empty history, save/load round trip, determinism.

Parametrised over every retrieval kind and the rating model, all built the way
`reelrank.experiment.run` builds them, on the package's synthetic data set.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from reelrank.config import ExperimentConfig, RatingModelConfig, RetrievalModelConfig
from reelrank.data.encoding import features
from reelrank.experiment.split import prepare
from reelrank.models.rating.mlp import RatingMLP
from reelrank.models.retrieval.base import RetrievalModel, UserHistories
from reelrank.models.retrieval.blend import Blend
from reelrank.models.retrieval.factory import (
    CLOSED_FORM,
    fit_closed_form,
    new_two_tower,
    retrieval_model_from_state_dict,
)
from reelrank.models.retrieval.item_item import ItemItemModel
from reelrank.models.retrieval.low_rank import LowRankItemModel
from reelrank.types import Ratings

# Towers with every kind of feature (bag, dense, categorical) and an MLP, so the tables and
# encoders go through the round trip too.
_TOWER = RetrievalModelConfig(
    kind="two_tower",
    embedding_dim=8,
    user_features=("history",),
    movie_features=("title_tokens", "genres", "year"),
    tower_hidden_dims=(16,),
    max_history=10,
)
CONFIGS: dict[str, RetrievalModelConfig] = {
    "popularity": RetrievalModelConfig(kind="popularity"),
    "ease": RetrievalModelConfig(kind="ease", ease_lambda=50.0),
    "edlae": RetrievalModelConfig(kind="edlae", ease_lambda=30.0, low_rank=4),
    "two_tower": _TOWER,
    "blend": dataclasses.replace(_TOWER, kind="blend", ease_lambda=30.0, low_rank=4),
    # Where the dense solve would not fit (forced here with a 0 MB budget): the low-rank model.
    "ease_low_rank": RetrievalModelConfig(
        kind="ease", approx_lambda=5.0, dense_item_item_mb=0, approx_rank=6
    ),
    "blend_low_rank": dataclasses.replace(
        _TOWER, kind="blend", approx_lambda=5.0, dense_item_item_mb=0, approx_rank=6
    ),
}
RANKING = RatingModelConfig(embedding_dim=8, hidden_dims=(16,))
RETRIEVAL_KINDS = tuple(CONFIGS)
ALL_KINDS = (*RETRIEVAL_KINDS, "rating")
LEARNED_KINDS = (
    "two_tower",
    "blend",
    "blend_low_rank",
    "rating",
)  # those whose weights depend on the seed


@dataclass(frozen=True)
class _Data:
    """The synthetic training split, encoded, with what the models are built from."""

    n_users: int
    n_movies: int
    users: Tensor  # [n] training pairs
    movies: Tensor
    user_tables: dict[str, Tensor]
    movie_tables: dict[str, Tensor]
    histories: UserHistories  # as the recommender stores them (its seen ratings)


@pytest.fixture(scope="module")
def data(ratings: Ratings) -> _Data:
    split = prepare(ratings, ExperimentConfig())
    vocabs = split.vocabs
    seen = split.train.by_user(vocabs.users.size)
    indptr, movie_idx = seen.indptr, seen.movie_idx
    users = features.user_tables(ratings, vocabs, split.train, max_history=_TOWER.max_history)
    movies = features.movie_tables(split.movies, vocabs)
    return _Data(
        n_users=len(vocabs.users),
        n_movies=len(vocabs.movies),
        users=torch.from_numpy(split.train.user_idx),
        movies=torch.from_numpy(split.train.movie_idx),
        user_tables={k: torch.from_numpy(v) for k, v in users.items()},
        movie_tables={k: torch.from_numpy(v) for k, v in movies.items()},
        histories=(torch.from_numpy(indptr), torch.from_numpy(movie_idx)),
    )


def _build(kind: str, data: _Data, *, seed: int = 0) -> nn.Module:
    """A model of `kind` as `reelrank.experiment.run` builds it: fitted, or freshly initialised."""
    sizes = {"n_users": data.n_users, "n_movies": data.n_movies}
    generator = torch.Generator().manual_seed(seed)
    if kind == "rating":
        return RatingMLP(RANKING, **sizes, generator=generator)
    config = CONFIGS[kind]
    if config.kind in CLOSED_FORM:
        return fit_closed_form(config, data.users, data.movies, **sizes)
    tower = new_two_tower(
        config,
        **sizes,
        user_tables=data.user_tables,
        movie_tables=data.movie_tables,
        generator=generator,
    )
    if config.kind == "two_tower":
        return tower
    item_item = fit_closed_form(config, data.users, data.movies, **sizes)
    assert isinstance(item_item, ItemItemModel | LowRankItemModel)
    return Blend.compose(item_item, tower, weight=config.blend_weight)


def _reload(kind: str, model: nn.Module, data: _Data, path: Path) -> nn.Module:
    """`model` saved to safetensors and rebuilt from its state dict, as an artifact does."""
    save_file(model.state_dict(), str(path))
    state = load_file(str(path))
    if kind == "rating":
        loaded = RatingMLP(RANKING, n_users=data.n_users, n_movies=data.n_movies)
        loaded.load_state_dict(state, strict=True)
        return loaded
    return retrieval_model_from_state_dict(CONFIGS[kind], state, user_histories=data.histories)


def _all_pairs(data: _Data) -> tuple[Tensor, Tensor]:
    """Every (user, movie) index pair, the unknown ones (0) included."""
    users, movies = torch.meshgrid(
        torch.arange(data.n_users + 1), torch.arange(data.n_movies + 1), indexing="ij"
    )
    return users.flatten(), movies.flatten()


@pytest.fixture(scope="module", params=ALL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def model(kind: str, data: _Data) -> nn.Module:
    return _build(kind, data).eval()


def test_the_unknown_user_gets_finite_scores(kind: str, model: nn.Module, data: _Data) -> None:
    movies = torch.arange(1, data.n_movies + 1)
    with torch.no_grad():
        scores = model(torch.zeros_like(movies), movies)
    assert scores.shape == movies.shape and torch.isfinite(scores).all()
    if isinstance(model, RetrievalModel):
        assert torch.isfinite(model.score_all(torch.tensor([0]))[:, 1:]).all()


def test_the_unknown_movie_is_scored_but_never_wins(
    kind: str, model: nn.Module, data: _Data
) -> None:
    users = torch.arange(data.n_users + 1)
    with torch.no_grad():
        scores = model(users, torch.zeros_like(users))
    assert torch.isfinite(scores).all()  # defined, so a batch holding it does not break
    if not isinstance(model, RetrievalModel):
        return  # ranking orders the candidates retrieval hands it, never the unknown movie
    everything = model.score_all(users)
    assert everything.shape == (data.n_users + 1, data.n_movies + 1)
    assert torch.all(everything[:, 0] == float("-inf"))
    assert torch.isfinite(everything[:, 1:]).all()
    top = torch.topk(everything, data.n_movies, dim=1).indices
    assert not (top == 0).any()
    assert model.score_history(torch.tensor([1, 2]))[0] == float("-inf")


@pytest.mark.parametrize("kind", RETRIEVAL_KINDS, indirect=True)
@pytest.mark.parametrize("history", [[], [0], [0, 0]], ids=["empty", "unknown", "unknowns"])
def test_fold_in_without_a_known_movie_is_the_same_clear_error(
    kind: str, model: RetrievalModel, history: list[int]
) -> None:
    with pytest.raises(ValueError, match="fold_in needs at least one known movie"):
        model.fold_in(torch.tensor(history, dtype=torch.long))


@pytest.mark.parametrize("kind", RETRIEVAL_KINDS, indirect=True)
def test_fold_in_of_known_movies_gives_one_finite_query(
    kind: str, model: RetrievalModel, data: _Data
) -> None:
    query = model.fold_in(torch.tensor([0, 3, 5]))
    assert query.ndim == 1 and query.shape[0] == model.all_movie_embeddings().shape[1]
    assert torch.isfinite(query).all() and not query.requires_grad


@pytest.mark.parametrize("kind", RETRIEVAL_KINDS, indirect=True)
def test_fold_in_each_is_fold_in_of_each_movie(kind: str, model: RetrievalModel) -> None:
    movies = torch.tensor([3, 1, 3, 6])
    expected = torch.stack([model.fold_in(m[None]) for m in movies])
    torch.testing.assert_close(model.fold_in_each(movies), expected, rtol=1e-4, atol=1e-5)
    assert model.fold_in_each(torch.zeros(0, dtype=torch.long)).shape[0] == 0
    with pytest.raises(ValueError, match="known movies only"):
        model.fold_in_each(torch.tensor([2, 0]))


def test_safetensors_round_trip_gives_identical_scores(
    kind: str, model: nn.Module, data: _Data, tmp_path: Path
) -> None:
    loaded = _reload(kind, model, data, tmp_path / "weights.safetensors").eval()
    assert type(loaded) is type(model)
    users, movies = _all_pairs(data)
    with torch.no_grad():
        assert torch.equal(loaded(users, movies), model(users, movies))
    if isinstance(model, RetrievalModel):
        assert isinstance(loaded, RetrievalModel)
        everyone = torch.arange(data.n_users + 1)
        assert torch.equal(loaded.score_all(everyone), model.score_all(everyone))
        history = torch.tensor([4, 1, 7])
        assert torch.equal(loaded.fold_in(history), model.fold_in(history))


def test_the_same_seed_gives_the_same_model(kind: str, data: _Data) -> None:
    torch.manual_seed(1234)  # the global generator must not matter
    first = _build(kind, data, seed=7)
    torch.manual_seed(99)
    second = _build(kind, data, seed=7)
    a, b = dict(first.named_buffers()), dict(second.named_buffers())  # non-persistent ones too
    a |= dict(first.named_parameters())
    b |= dict(second.named_parameters())
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    if kind in LEARNED_KINDS:
        other = dict(_build(kind, data, seed=8).named_parameters())
        assert any(not torch.equal(other[name], a[name]) for name in other)
