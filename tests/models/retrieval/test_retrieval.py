"""The helpers every retrieval model shares: index checks and the one fold-in policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reelrank.models.retrieval.base import index_vector, known_history, state_rows


def test_known_history_drops_the_unknown_movie_and_keeps_order() -> None:
    history = known_history(torch.tensor([3, 0, 7, 2], dtype=torch.int32), n_movies=9)
    assert history.dtype == torch.long and history.tolist() == [3, 7, 2]


@pytest.mark.parametrize(
    "history", [torch.tensor([], dtype=torch.long), torch.tensor([0, 0])], ids=["empty", "zeros"]
)
def test_a_history_with_no_known_movie_is_a_clear_error(history: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=r"at least one known movie.*popularity"):
        known_history(history, n_movies=9)


def test_index_vector_says_what_was_wrong() -> None:
    assert index_vector("x", np.array([0, 4]), 4).tolist() == [0, 4]
    with pytest.raises(ValueError, match=r"x must lie in \[0, 4\]"):
        index_vector("x", torch.tensor([5]), 4)
    with pytest.raises(ValueError, match=r"x must lie in \[0, 4\]"):
        index_vector("x", torch.tensor([-1]), 4)
    with pytest.raises(ValueError, match="1-D integer"):
        index_vector("x", torch.tensor([[1]]), 4)
    with pytest.raises(ValueError, match="1-D integer"):
        index_vector("x", torch.tensor([True]), 4)


def test_state_rows_names_a_missing_key() -> None:
    assert state_rows({"w": torch.zeros(3, 2)}, "w") == 3
    with pytest.raises(ValueError, match="no 'counts'"):
        state_rows({}, "counts")
