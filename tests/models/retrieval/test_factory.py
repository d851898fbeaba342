"""The factory: every kind by name, and clear errors for the rest."""

from __future__ import annotations

import pytest
import torch

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.factory import (
    fit_closed_form,
    new_two_tower,
    retrieval_model_from_state_dict,
)


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown retrieval model kind 'magic'"):
        new_two_tower(RetrievalModelConfig(kind="magic"), n_users=1, n_movies=1)
    with pytest.raises(ValueError, match="unknown retrieval model kind"):
        retrieval_model_from_state_dict(RetrievalModelConfig(kind="magic"), {})


def test_a_two_tower_model_is_trained_not_fitted() -> None:
    pairs = torch.tensor([1]), torch.tensor([1])
    with pytest.raises(ValueError, match="trained, not fitted"):
        fit_closed_form(RetrievalModelConfig(), *pairs, n_users=1, n_movies=1)


@pytest.mark.parametrize("kind", ["ease", "edlae", "blend"])
def test_item_item_kinds_need_the_user_histories(kind: str) -> None:
    config = RetrievalModelConfig(kind=kind, embedding_dim=2)
    with pytest.raises(ValueError, match="user_histories"):
        retrieval_model_from_state_dict(
            config,
            {"item_weights": torch.zeros(2, 2), "item_item.item_weights": torch.zeros(2, 2)},
        )
