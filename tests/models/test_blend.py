from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from reelrank.config import RetrievalModelConfig
from reelrank.models.blend import Blend
from reelrank.models.factory import fit_closed_form, new_two_tower, retrieval_model_from_state_dict
from reelrank.models.item_based import ItemItemModel, histories_from_pairs

N_USERS, N_MOVIES = 12, 9
CONFIG = RetrievalModelConfig(kind="blend", embedding_dim=4, ease_lambda=2.0, blend_weight=0.7)


def _pairs() -> tuple[torch.Tensor, torch.Tensor]:
    pairs = np.argwhere(np.random.default_rng(0).random((N_USERS, N_MOVIES)) < 0.4) + 1
    return torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])


def _blend() -> Blend:
    users, movies = _pairs()
    item_item = fit_closed_form(CONFIG, users, movies, n_users=N_USERS, n_movies=N_MOVIES)
    assert isinstance(item_item, ItemItemModel)
    tower = new_two_tower(
        CONFIG, n_users=N_USERS, n_movies=N_MOVIES, generator=torch.Generator().manual_seed(0)
    )
    return Blend.compose(item_item, tower, weight=CONFIG.blend_weight)


def test_blend_scores_are_the_scaled_sum_of_its_parts() -> None:
    blend = _blend()
    users = torch.arange(1, N_USERS + 1)
    item_scores = blend.item_item.score_all(users)[:, 1:]
    tower_scores = blend.two_tower.score_all(users)[:, 1:]
    expected = item_scores / item_scores.std() + 0.7 * tower_scores / tower_scores.std()
    torch.testing.assert_close(blend.score_all(users)[:, 1:], expected, rtol=1e-4, atol=1e-5)
    history = torch.tensor([1, 4])
    expected_fold = torch.cat(
        [
            blend.item_item.fold_in(history) * blend.scales[0],
            blend.two_tower.fold_in(history) * blend.scales[1],
        ]
    )
    torch.testing.assert_close(blend.fold_in(history), expected_fold)


def test_blend_round_trips_strictly_through_safetensors(tmp_path: Path) -> None:
    blend = _blend()
    save_file({k: v.clone() for k, v in blend.state_dict().items()}, tmp_path / "w.safetensors")
    histories = histories_from_pairs(*_pairs(), n_users=N_USERS, n_movies=N_MOVIES)
    loaded = retrieval_model_from_state_dict(
        CONFIG, load_file(tmp_path / "w.safetensors"), user_histories=histories
    )
    users = torch.arange(N_USERS + 1)
    torch.testing.assert_close(loaded.score_all(users), blend.score_all(users))
