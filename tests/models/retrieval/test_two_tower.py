"""TwoTower: shapes, features on/off, fold-in, Keras-like init, strict save/load."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.factory import retrieval_model_from_state_dict
from reelrank.models.retrieval.two_tower import TwoTower

N_USERS, N_MOVIES, DIM, WIDTH = 6, 9, 4, 5


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _user_tables() -> dict[str, Tensor]:
    g = _gen(1)
    history = torch.randint(1, N_MOVIES + 1, (N_USERS + 1, WIDTH), generator=g)
    history[:, 3:] = 0  # padding at the end of every row
    history[2] = 0  # user 2 has no history
    history[0] = 0  # the unknown user
    return {
        "gender": torch.randint(0, 3, (N_USERS + 1,), generator=g),
        "age": torch.randint(0, 8, (N_USERS + 1,), generator=g),
        "occupation": torch.randint(0, 22, (N_USERS + 1,), generator=g),
        "history": history,
    }


def _movie_tables() -> dict[str, Tensor]:
    g = _gen(2)
    tokens = torch.randint(1, 30, (N_MOVIES + 1, 3), generator=g)
    tokens[:, 2] = 0
    return {
        "title_tokens": tokens,
        "genres": (torch.rand(N_MOVIES + 1, 19, generator=g) < 0.2).float(),
        "year": torch.randint(0, 10, (N_MOVIES + 1,), generator=g),
    }


def _full_config(hidden: tuple[int, ...] = (8,)) -> RetrievalModelConfig:
    return RetrievalModelConfig(
        embedding_dim=DIM,
        user_features=("gender", "age", "occupation", "history"),
        movie_features=("title_tokens", "genres", "year"),
        tower_hidden_dims=hidden,
    )


def _full_model(hidden: tuple[int, ...] = (8,), seed: int = 0) -> TwoTower:
    return TwoTower(
        _full_config(hidden),
        n_users=N_USERS,
        n_movies=N_MOVIES,
        user_tables=_user_tables(),
        movie_tables=_movie_tables(),
        generator=_gen(seed),
    )


def _ids_only(seed: int = 0) -> TwoTower:
    config = RetrievalModelConfig(embedding_dim=DIM)
    return TwoTower(config, n_users=N_USERS, n_movies=N_MOVIES, generator=_gen(seed))


def test_ids_only_tower_is_exactly_an_embedding_lookup() -> None:
    model = _ids_only()
    users, movies = torch.tensor([0, 3, 6]), torch.tensor([9, 1, 0])
    assert model.user_tower.mlp is None and model.movie_tower.mlp is None
    assert [name for name, _ in model.named_parameters()] == [
        "user_tower.id_embedding.weight",
        "movie_tower.id_embedding.weight",
    ]
    u = model.user_tower.id_embedding.weight[users]
    m = model.movie_tower.id_embedding.weight[movies]
    torch.testing.assert_close(model.user_embedding(users), u)
    torch.testing.assert_close(model.movie_embedding(movies), m)
    torch.testing.assert_close(model(users, movies), (u * m).sum(-1))


def test_keras_like_init_and_seeded_reproducibility() -> None:
    model = _full_model(hidden=(8, 6))
    for name, param in model.named_parameters():
        if "embedding" in name:
            assert param.abs().max() <= 0.05, name
            assert param.abs().max() > 0.02, name  # uniform over the range, not a narrow normal
        elif name.endswith("bias"):
            assert torch.all(param == 0), name
        else:
            fan_out, fan_in = param.shape
            assert param.abs().max() <= math.sqrt(6 / (fan_in + fan_out)) + 1e-7, name
    again = _full_model(hidden=(8, 6))
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    other = _full_model(hidden=(8, 6), seed=1)
    assert not torch.equal(
        other.user_tower.id_embedding.weight, model.user_tower.id_embedding.weight
    )


@pytest.mark.parametrize("hidden", [(), (8,), (8, 6)])
def test_shapes_with_all_features(hidden: tuple[int, ...]) -> None:
    model = _full_model(hidden)
    users, movies = torch.tensor([1, 2, 6]), torch.tensor([3, 9, 1])
    assert model.user_embedding(users).shape == (3, DIM)
    assert model.movie_embedding(movies).shape == (3, DIM)
    assert model(users, movies).shape == (3,)
    everything = model.all_movie_embeddings()
    assert everything.shape == (N_MOVIES + 1, DIM)
    torch.testing.assert_close(everything[movies], model.movie_embedding(movies))
    scores = model.score_all(users)
    assert scores.shape == (3, N_MOVIES + 1)
    assert torch.all(scores[:, 0] == float("-inf"))
    torch.testing.assert_close(scores[torch.arange(3), movies], model(users, movies))


def test_features_change_the_embeddings_and_can_be_switched_off() -> None:
    config = RetrievalModelConfig(embedding_dim=DIM, user_features=("gender",))
    model = TwoTower(
        config,
        n_users=N_USERS,
        n_movies=N_MOVIES,
        user_tables=_user_tables(),  # extra tables for unconfigured features are ignored
        movie_tables=_movie_tables(),
        generator=_gen(),
    )
    assert model.user_features == ("gender",) and model.movie_features == ()
    assert set(model.state_dict()) >= {"user_tower.table_gender"}
    assert not any("history" in key or "genres" in key for key in model.state_dict())
    # Two users that differ only in gender get different vectors.
    model.user_tower.id_embedding.weight.data[2] = model.user_tower.id_embedding.weight.data[1]
    gender = model.user_tower.table("gender")
    gender[1], gender[2] = 0, 1
    u = model.user_embedding(torch.tensor([1, 2]))
    assert not torch.allclose(u[0], u[1])


def test_history_is_mean_pooled_over_non_padding_entries() -> None:
    model = _full_model()
    table = model.user_tower.table("history")
    encoder = model.user_tower.encoders["history"]
    bag = encoder.get_parameter("embedding.weight")
    row = table[1]
    manual = bag[row[row > 0]].mean(0)
    pooled = encoder(table[1:2])[0]
    torch.testing.assert_close(pooled, manual)
    empty = model.user_tower.encoders["history"](table[2:3])[0]  # user 2 has none
    assert torch.all(empty == 0)


def test_exclude_from_history_drops_the_positive() -> None:
    model = _full_model()
    users = torch.tensor([1, 3])
    history = model.user_tower.table("history")[users]
    positives = history[:, 0]  # a movie each user has in the history
    excluded = model.user_embedding(users, exclude_from_history=positives)
    features = {n: model.user_tower.table(n)[users] for n in model.user_features}
    features["history"] = history.masked_fill(history == positives[:, None], 0)
    torch.testing.assert_close(excluded, model.user_tower.encode(users, features))
    assert not torch.allclose(excluded, model.user_embedding(users))
    # Without a history feature the argument changes nothing.
    plain = _ids_only()
    torch.testing.assert_close(
        plain.user_embedding(users, exclude_from_history=positives), plain.user_embedding(users)
    )


def test_fold_in_without_history_is_the_mean_of_the_movie_vectors() -> None:
    model = _ids_only()
    liked = torch.tensor([3, 0, 7, 2])  # the 0 (unknown movie) is dropped
    expected = model.movie_embedding(torch.tensor([3, 7, 2])).mean(0)
    vector = model.fold_in(liked)
    torch.testing.assert_close(vector, expected)
    assert not vector.requires_grad
    scores = model.score_history(liked)
    assert scores.shape == (N_MOVIES + 1,) and scores[0] == float("-inf")
    torch.testing.assert_close(scores[1:], model.all_movie_embeddings()[1:] @ expected)


def test_fold_in_with_history_is_the_user_tower_of_an_unknown_user() -> None:
    model = _full_model()
    # Make user 4 look exactly like the unknown user except for the history: same id vector,
    # all side features unknown (0). Then folding in its history must give its own vector.
    model.user_tower.id_embedding.weight.data[4] = model.user_tower.id_embedding.weight.data[0]
    for name in ("gender", "age", "occupation"):
        model.user_tower.table(name)[4] = 0
    row = model.user_tower.table("history")[4]
    expected = model.user_embedding(torch.tensor([4]))[0]
    torch.testing.assert_close(model.fold_in(row[row > 0]), expected)
    # Longer than the table's width: the last `width` movies are kept.
    longer = torch.cat([torch.tensor([1, 2, 3, 4, 5, 6]), row[row > 0]])
    kept = longer[-WIDTH:]
    torch.testing.assert_close(model.fold_in(longer), model.fold_in(kept))


def test_fold_in_rejects_empty_or_out_of_range_history() -> None:
    model = _ids_only()
    with pytest.raises(ValueError, match="at least one known movie"):
        model.fold_in(torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="at least one known movie"):
        model.fold_in(torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        model.fold_in(torch.tensor([10]))


def _without_history(tables: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v for k, v in tables.items() if k != "history"}


@pytest.mark.parametrize(
    ("bad_tables", "message"),
    [
        (_without_history, "'history' is configured but no table"),
        (lambda t: {**t, "gender": t["gender"][:5]}, r"shape \[7\]"),
        (lambda t: {**t, "age": t["age"].float()}, "integers"),
        (lambda t: {**t, "history": t["history"] + N_MOVIES}, "above n_movies"),
    ],
    ids=["missing", "short", "float", "out-of-range"],
)
def test_bad_feature_tables_are_clear_errors(
    bad_tables: Callable[[dict[str, Tensor]], dict[str, Tensor]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TwoTower(
            _full_config(),
            n_users=N_USERS,
            n_movies=N_MOVIES,
            user_tables=bad_tables(_user_tables()),
            movie_tables=_movie_tables(),
        )


def test_constructor_errors_are_clear() -> None:
    tables = _user_tables()
    with pytest.raises(ValueError, match="unknown user feature 'zip'"):
        TwoTower(
            RetrievalModelConfig(user_features=("zip",)),
            n_users=N_USERS,
            n_movies=N_MOVIES,
            user_tables={"zip": tables["gender"]},
        )
    with pytest.raises(ValueError, match="kind='two_tower'"):
        TwoTower(RetrievalModelConfig(kind="ease"), n_users=N_USERS, n_movies=N_MOVIES)


@pytest.mark.parametrize("full", [False, True])
def test_two_tower_strict_safetensors_round_trip(full: bool, tmp_path: Path) -> None:
    model = _full_model() if full else _ids_only()
    config = model.config
    # Train-like change so the round trip is not just re-initialisation.
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1)
    path = tmp_path / "weights.safetensors"
    save_file(model.state_dict(), str(path))
    loaded = retrieval_model_from_state_dict(config, load_file(str(path)))
    assert isinstance(loaded, TwoTower)
    users = torch.arange(N_USERS + 1)
    torch.testing.assert_close(loaded.score_all(users), model.score_all(users))
    torch.testing.assert_close(
        loaded.fold_in(torch.tensor([1, 2])), model.fold_in(torch.tensor([1, 2]))
    )
    state = dict(model.state_dict())
    state["surprise"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="surprise"):
        TwoTower.from_state_dict(config, state)


def test_from_state_dict_with_mismatched_config_is_an_error() -> None:
    state = _ids_only().state_dict()
    with pytest.raises(ValueError, match="table_gender"):
        TwoTower.from_state_dict(
            RetrievalModelConfig(embedding_dim=DIM, user_features=("gender",)), state
        )
