"""Item-item models (EASE, EDLAE): closed forms, fold-in, no exclusions, strict save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from reelrank.data.synthetic import synthetic_ratings
from reelrank.models.item_based import (
    EASE,
    EDLAE,
    ItemItemModel,
    edlae_weights,
    interaction_matrix,
    low_rank_weights,
)

# 4 users x 3 movies (indices 1..3; 0 is padding). User 4 has rated nothing.
USERS = np.array([1, 1, 2, 2, 2, 3])
MOVIES = np.array([1, 2, 1, 2, 3, 3])
N_USERS, N_MOVIES = 4, 3


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


def _hand_ease(x: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """W = I - P / diag(P), P = (XᵀX + diag(penalty))⁻¹, on the real movies only."""
    p = np.linalg.inv(x.T @ x + np.diag(penalty))
    return np.eye(len(penalty)) - p / np.diag(p)[None, :]


def test_ease_matches_hand_computed_closed_form() -> None:
    model = EASE.fit(USERS, MOVIES, n_users=N_USERS, n_movies=N_MOVIES, l2=2.0)
    x = np.zeros((N_USERS, N_MOVIES))
    x[USERS - 1, MOVIES - 1] = 1.0
    expected = _hand_ease(x, np.full(N_MOVIES, 2.0))
    w = model.item_weights.numpy()
    np.testing.assert_allclose(w[1:, 1:], expected, atol=1e-6)
    assert np.all(np.diag(w) == 0)
    assert np.all(w[0] == 0) and np.all(w[:, 0] == 0)  # padding movie is inert


def test_edlae_penalty_and_ease_special_case() -> None:
    fit = dict(user_idx=USERS, movie_idx=MOVIES, n_users=N_USERS, n_movies=N_MOVIES)
    edlae = EDLAE.fit(**fit, l2=2.0, dropout=0.5, low_rank=0)
    x = np.zeros((N_USERS, N_MOVIES))
    x[USERS - 1, MOVIES - 1] = 1.0
    expected = _hand_ease(x, 2.0 + 1.0 * x.sum(axis=0))  # p/(1-p) = 1
    np.testing.assert_allclose(edlae.item_weights.numpy()[1:, 1:], expected, atol=1e-6)

    plain = EDLAE.fit(**fit, l2=2.0, dropout=0.0, low_rank=0)
    ease = EASE.fit(**fit, l2=2.0)
    torch.testing.assert_close(plain.item_weights, ease.item_weights)


def test_low_rank_term_is_the_scaled_puresvd_projection() -> None:
    fit = dict(user_idx=USERS, movie_idx=MOVIES, n_users=N_USERS, n_movies=N_MOVIES)
    base = EDLAE.fit(**fit, l2=2.0, dropout=0.5, low_rank=0)
    blend = EDLAE.fit(**fit, l2=2.0, dropout=0.5, low_rank=2, low_rank_weight=0.5)
    extra = (blend.item_weights - base.item_weights).double()
    x = interaction_matrix(USERS, MOVIES, n_users=N_USERS, n_movies=N_MOVIES)
    low = low_rank_weights(x, rank=2)
    ratio = extra[1:, 1:].flatten() @ low[1:, 1:].flatten() / (low[1:, 1:] ** 2).sum()
    torch.testing.assert_close(extra, ratio * low, atol=1e-5, rtol=1e-4)
    assert ratio > 0


def test_fold_in_of_a_users_history_is_that_users_query(synthetic: dict) -> None:
    model = EDLAE.fit(**synthetic, low_rank=5)
    user = 7
    history = torch.as_tensor(synthetic["movie_idx"][synthetic["user_idx"] == user])
    query = model.fold_in(torch.cat([history, torch.zeros(2, dtype=torch.long)]))  # 0s dropped
    torch.testing.assert_close(query, model.user_embedding(torch.tensor([user]))[0])
    torch.testing.assert_close(
        model.score_history(history), model.score_all(torch.tensor([user]))[0]
    )


def test_scores_exclude_nothing_and_are_dot_products(synthetic: dict) -> None:
    model = EASE.fit(**synthetic, l2=10.0)
    users = torch.arange(1, synthetic["n_users"] + 1)
    scores = model.score_all(users)
    assert scores.shape == (synthetic["n_users"], synthetic["n_movies"] + 1)
    assert torch.all(scores[:, 0] == float("-inf"))  # the padding movie only
    assert torch.isfinite(scores[:, 1:]).all()  # seen movies too: exclusion is the index's job
    seen = model.user_items[users] > 0
    assert seen.any() and torch.isfinite(scores[:, 1:][seen[:, 1:]]).all()
    movies = torch.tensor([1, 5, 9])
    pairs = model(users[:3], movies)
    torch.testing.assert_close(pairs, scores[torch.arange(3), movies])


def test_learns_better_than_popularity(synthetic: dict) -> None:
    x = interaction_matrix(**synthetic).float()
    model = EDLAE.fit(**synthetic, l2=20.0, dropout=0.5, low_rank=3)
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
def test_strict_safetensors_round_trip(
    cls: type[ItemItemModel], synthetic: dict, tmp_path: Path
) -> None:
    model = cls.fit(**synthetic)  # type: ignore[attr-defined]
    path = tmp_path / "weights.safetensors"
    save_file(model.state_dict(), str(path))
    tensors = load_file(str(path))
    empty = cls(n_users=synthetic["n_users"], n_movies=synthetic["n_movies"])
    empty.load_state_dict(tensors, strict=True)
    rebuilt = cls.from_state_dict(None, tensors)
    users = torch.arange(synthetic["n_users"] + 1)
    for loaded in (empty, rebuilt):
        torch.testing.assert_close(loaded.score_all(users), model.score_all(users))
    with pytest.raises(RuntimeError):
        cls(n_users=synthetic["n_users"] + 1, n_movies=synthetic["n_movies"]).load_state_dict(
            tensors, strict=True
        )
    with pytest.raises(ValueError, match="user_items"):
        cls.from_state_dict(None, {"item_weights": tensors["item_weights"]})


def test_interaction_matrix_counts_repeats_once_and_takes_max_weight() -> None:
    users, movies = np.array([1, 1, 2]), np.array([2, 2, 3])
    x = interaction_matrix(users, movies, n_users=2, n_movies=3)
    assert x[1, 2] == 1 and x.sum() == 2
    w = interaction_matrix(users, movies, n_users=2, n_movies=3, weights=np.array([0.5, 2.0, 3.0]))
    assert w[1, 2] == 2.0 and w[2, 3] == 3.0


def test_bad_inputs_say_what_is_wrong() -> None:
    model = EASE.fit(USERS, MOVIES, n_users=N_USERS, n_movies=N_MOVIES, l2=1.0)
    with pytest.raises(ValueError, match="at least one known movie"):
        model.fold_in(torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        model.fold_in(torch.tensor([4]))
    with pytest.raises(ValueError, match="same length"):
        EASE.fit(USERS, MOVIES[:-1], n_users=N_USERS, n_movies=N_MOVIES)
    with pytest.raises(ValueError, match="dropout"):
        edlae_weights(torch.zeros(2, 2), l2=1.0, dropout=1.0)
