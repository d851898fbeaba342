"""Popularity: log-count scores for everyone, strict save/load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.factory import fit_closed_form, retrieval_model_from_state_dict
from reelrank.models.retrieval.popularity import Popularity

CONFIG = RetrievalModelConfig(kind="popularity")
N_USERS, N_MOVIES = 6, 9


def test_popularity_scores_every_user_by_log_count(tmp_path: Path) -> None:
    model = fit_closed_form(
        CONFIG,
        torch.tensor([1, 1, 1, 2, 2, 3]),
        torch.tensor([3, 3, 3, 5, 5, 1]),
        n_users=N_USERS,
        n_movies=N_MOVIES,
    )
    assert isinstance(model, Popularity)
    scores = model.score_all(torch.tensor([0, 1, 6]))
    expected = torch.log1p(torch.tensor([0, 1, 0, 3, 0, 2, 0, 0, 0, 0], dtype=torch.float32))
    expected[0] = float("-inf")
    torch.testing.assert_close(scores, expected.expand(3, -1))
    torch.testing.assert_close(model.score_history(torch.tensor([2])), expected)
    torch.testing.assert_close(
        model(torch.tensor([1]), torch.tensor([3])), torch.log1p(torch.tensor([3.0]))
    )
    save_file(model.state_dict(), str(tmp_path / "weights.safetensors"))
    loaded = retrieval_model_from_state_dict(
        CONFIG, load_file(str(tmp_path / "weights.safetensors"))
    )
    assert isinstance(loaded, Popularity)
    torch.testing.assert_close(loaded.score_all(torch.tensor([0, 1, 6])), scores)


def test_fold_in_checks_the_history_like_every_model() -> None:
    model = Popularity(n_movies=N_MOVIES).fit(torch.tensor([1, 2]))
    assert model.fold_in(torch.tensor([0, 4])).shape == (1,)
    with pytest.raises(ValueError, match="at least one known movie"):
        model.fold_in(torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        model.fold_in(torch.tensor([10]))


def test_fit_rejects_bad_movie_indices() -> None:
    with pytest.raises(ValueError, match=r"movie_idx must lie in \[0, 9\]"):
        Popularity(n_movies=N_MOVIES).fit(torch.tensor([10]))
    with pytest.raises(ValueError, match="1-D integer"):
        Popularity(n_movies=N_MOVIES).fit(torch.tensor([1.0]))
