"""Item-item models (EASE, EDLAE): closed forms, fold-in, no exclusions, strict save/load with
the users' histories given from outside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.item_item import (
    EASE,
    EDLAE,
    ItemItemModel,
    edlae_weights,
    histories_from_pairs,
    interaction_matrix,
    low_rank_weights,
)
from reelrank.testing.synthetic import synthetic_ratings

# 4 users x 3 movies (indices 1..3; 0 is padding). User 4 has rated nothing.
USERS = np.array([1, 1, 2, 2, 2, 3])
MOVIES = np.array([1, 2, 1, 2, 3, 3])
N_USERS, N_MOVIES = 4, 3
TINY: dict[str, Any] = dict(user_idx=USERS, movie_idx=MOVIES, n_users=N_USERS, n_movies=N_MOVIES)


def _config(
    l2: float, dropout: float = 0.75, rank: int = 0, weight: float = 0.25
) -> RetrievalModelConfig:
    return RetrievalModelConfig(
        kind="edlae", ease_lambda=l2, edlae_dropout=dropout, low_rank=rank, low_rank_weight=weight
    )


@pytest.fixture(scope="module")
def synthetic() -> dict[str, np.ndarray | int]:
    ratings = synthetic_ratings(n_users=40, n_movies=50, ratings_per_user=12, seed=3)
    users, user_idx = np.unique(ratings.user_id, return_inverse=True)
    movies, movie_idx = np.unique(ratings.movie_title, return_inverse=True)
    return {
        "user_idx": user_idx + 1,
        "movie_idx": movie_idx + 1,
        "n_users": len(users),
        "n_movies": len(movies),
    }


def _histories(pairs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    return histories_from_pairs(
        pairs["user_idx"], pairs["movie_idx"], n_users=pairs["n_users"], n_movies=pairs["n_movies"]
    )


def _hand_ease(x: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """W = I - P / diag(P), P = (XᵀX + diag(penalty))⁻¹, on the real movies only."""
    p = np.linalg.inv(x.T @ x + np.diag(penalty))
    return np.eye(len(penalty)) - p / np.diag(p)[None, :]


def test_ease_matches_hand_computed_closed_form() -> None:
    model = EASE.fit(RetrievalModelConfig(kind="ease", ease_lambda=2.0), **TINY)
    x = np.zeros((N_USERS, N_MOVIES))
    x[USERS - 1, MOVIES - 1] = 1.0
    expected = _hand_ease(x, np.full(N_MOVIES, 2.0))
    w = model.item_weights.numpy()
    np.testing.assert_allclose(w[1:, 1:], expected, atol=1e-6)
    assert np.all(np.diag(w) == 0)
    assert np.all(w[0] == 0) and np.all(w[:, 0] == 0)  # padding movie is inert


def test_edlae_penalty_and_ease_special_case() -> None:
    edlae = EDLAE.fit(_config(2.0, dropout=0.5), **TINY)
    x = np.zeros((N_USERS, N_MOVIES))
    x[USERS - 1, MOVIES - 1] = 1.0
    expected = _hand_ease(x, 2.0 + 1.0 * x.sum(axis=0))  # p/(1-p) = 1
    np.testing.assert_allclose(edlae.item_weights.numpy()[1:, 1:], expected, atol=1e-6)

    plain = EDLAE.fit(_config(2.0, dropout=0.0), **TINY)
    ease = EASE.fit(RetrievalModelConfig(kind="ease", ease_lambda=2.0), **TINY)
    torch.testing.assert_close(plain.item_weights, ease.item_weights)


def test_low_rank_term_is_the_scaled_puresvd_projection() -> None:
    base = EDLAE.fit(_config(2.0, dropout=0.5), **TINY)
    blend = EDLAE.fit(_config(2.0, dropout=0.5, rank=2, weight=0.5), **TINY)
    extra = (blend.item_weights - base.item_weights).double()
    x = interaction_matrix(USERS, MOVIES, n_users=N_USERS, n_movies=N_MOVIES)
    low = low_rank_weights(x, rank=2)
    ratio = extra[1:, 1:].flatten() @ low[1:, 1:].flatten() / (low[1:, 1:] ** 2).sum()
    torch.testing.assert_close(extra, ratio * low, atol=1e-5, rtol=1e-4)
    assert ratio > 0


def test_user_rows_are_the_rows_of_the_interaction_matrix(synthetic: dict) -> None:
    model = EDLAE.fit(_config(300.0, rank=5), **synthetic)
    users = torch.tensor([3, 0, 7, 3, synthetic["n_users"]])  # repeats and the unknown user
    x = interaction_matrix(**synthetic, dtype=torch.float32)
    assert torch.equal(model.user_embedding(users), x[users])
    assert model.user_embedding(torch.tensor([], dtype=torch.long)).shape == (0, x.shape[1])
    with pytest.raises(ValueError, match="user_idx must lie in"):
        model.user_embedding(torch.tensor([synthetic["n_users"] + 1]))


def test_fold_in_of_a_users_history_is_that_users_query(synthetic: dict) -> None:
    model = EDLAE.fit(_config(300.0, rank=5), **synthetic)
    user = 7
    history = torch.as_tensor(synthetic["movie_idx"][synthetic["user_idx"] == user])
    query = model.fold_in(torch.cat([history, torch.zeros(2, dtype=torch.long)]))  # 0s dropped
    torch.testing.assert_close(query, model.user_embedding(torch.tensor([user]))[0])
    torch.testing.assert_close(
        model.score_history(history), model.score_all(torch.tensor([user]))[0]
    )


def test_scores_exclude_nothing_and_are_dot_products(synthetic: dict) -> None:
    model = EASE.fit(RetrievalModelConfig(kind="ease", ease_lambda=10.0), **synthetic)
    users = torch.arange(1, synthetic["n_users"] + 1)
    scores = model.score_all(users)
    assert scores.shape == (synthetic["n_users"], synthetic["n_movies"] + 1)
    assert torch.all(scores[:, 0] == float("-inf"))  # the padding movie only
    assert torch.isfinite(scores[:, 1:]).all()  # seen movies too: exclusion is the index's job
    seen = model.user_embedding(users) > 0
    assert seen.any() and torch.isfinite(scores[:, 1:][seen[:, 1:]]).all()
    movies = torch.tensor([1, 5, 9])
    pairs = model(users[:3], movies)
    torch.testing.assert_close(pairs, scores[torch.arange(3), movies])


def test_learns_better_than_popularity(synthetic: dict) -> None:
    x = interaction_matrix(**synthetic).float()
    model = EDLAE.fit(_config(20.0, dropout=0.5, rank=3), **synthetic)
    scores = x @ model.item_weights
    popular = x.sum(0, keepdim=True).expand_as(x)

    def hits_at_5(s: torch.Tensor) -> float:
        # No masking: a model that learned co-occurrence puts a user's own movies (which the
        # synthetic data draws from their taste) above merely popular ones.
        s = s.clone()
        s[:, 0] = -torch.inf
        top = torch.topk(s[1:], 5, dim=1).indices
        return float(x[1:].gather(1, top).mean())

    assert hits_at_5(scores) > hits_at_5(popular)


@pytest.mark.parametrize("cls", [EASE, EDLAE])
def test_state_dict_holds_the_weights_only_and_round_trips_with_the_histories(
    cls: type[ItemItemModel], synthetic: dict, tmp_path: Path
) -> None:
    config = _config(300.0, rank=5)
    model = cls.fit(config, **synthetic)
    assert list(model.state_dict()) == ["item_weights"]  # no users x movies matrix
    path = tmp_path / "weights.safetensors"
    save_file(model.state_dict(), str(path))
    tensors = load_file(str(path))
    histories = _histories(synthetic)
    empty = cls(n_movies=synthetic["n_movies"], user_histories=histories)
    empty.load_state_dict(tensors, strict=True)
    rebuilt = cls.from_state_dict(config, tensors, user_histories=histories)
    users = torch.arange(synthetic["n_users"] + 1)
    for loaded in (empty, rebuilt):
        assert torch.equal(loaded.score_all(users), model.score_all(users))  # bit for bit
    with pytest.raises(RuntimeError):
        cls(n_movies=synthetic["n_movies"] + 1, user_histories=histories).load_state_dict(
            tensors, strict=True
        )
    with pytest.raises(ValueError, match="item_weights"):
        cls.from_state_dict(config, {}, user_histories=histories)
    with pytest.raises(ValueError, match="user_histories"):
        cls.from_state_dict(config, tensors)
    with pytest.raises(ValueError, match="older versions"):
        cls.from_state_dict(
            config, {**tensors, "user_items": torch.zeros(1)}, user_histories=histories
        )


def test_histories_from_pairs_is_the_csr_of_each_users_movies() -> None:
    indptr, movies = histories_from_pairs(
        np.array([2, 1, 2, 1]), np.array([3, 1, 1, 2]), n_users=3, n_movies=3
    )
    assert indptr.tolist() == [0, 0, 2, 4, 4]  # users 0..3; user 0 and user 3 have none
    assert movies.tolist() == [1, 2, 3, 1]  # each user's movies in their given order


def test_bad_histories_say_what_is_wrong() -> None:
    movies = torch.tensor([1, 2])
    with pytest.raises(ValueError, match="end at len"):
        EASE(n_movies=3, user_histories=(torch.tensor([0, 1, 1]), movies))
    with pytest.raises(ValueError, match="never decrease"):
        EASE(n_movies=3, user_histories=(torch.tensor([0, 2, 1, 2]), movies))
    with pytest.raises(ValueError, match=r"movie_idx must lie in \[0, 3\]"):
        EASE(n_movies=3, user_histories=(torch.tensor([0, 0, 2]), torch.tensor([1, 4])))
    with pytest.raises(ValueError, match="n_users \\+ 2"):
        EASE(n_movies=3, user_histories=(torch.tensor([0, 0]), movies[:0]))


def test_interaction_matrix_counts_repeats_once_and_takes_max_weight() -> None:
    users, movies = np.array([1, 1, 2]), np.array([2, 2, 3])
    x = interaction_matrix(users, movies, n_users=2, n_movies=3)
    assert x[1, 2] == 1 and x.sum() == 2
    w = interaction_matrix(users, movies, n_users=2, n_movies=3, weights=np.array([0.5, 2.0, 3.0]))
    assert w[1, 2] == 2.0 and w[2, 3] == 3.0


def test_bad_inputs_say_what_is_wrong() -> None:
    model = EASE.fit(RetrievalModelConfig(kind="ease", ease_lambda=1.0), **TINY)
    with pytest.raises(ValueError, match="at least one known movie"):
        model.fold_in(torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        model.fold_in(torch.tensor([4]))
    with pytest.raises(ValueError, match="same length"):
        EASE.fit(RetrievalModelConfig(kind="ease"), USERS, MOVIES[:-1], n_users=4, n_movies=3)
    with pytest.raises(ValueError, match="ease_lambda must be positive"):
        EASE.fit(RetrievalModelConfig(kind="ease", ease_lambda=0.0), **TINY)
    with pytest.raises(ValueError, match="low_rank"):
        EDLAE.fit(_config(1.0, rank=-1), **TINY)
    with pytest.raises(ValueError, match="dropout"):
        edlae_weights(torch.zeros(2, 2), l2=1.0, dropout=1.0)
