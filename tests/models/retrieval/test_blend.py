from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from reelrank.config import RetrievalModelConfig
from reelrank.models.retrieval.blend import Blend, FoldIn
from reelrank.models.retrieval.factory import (
    fit_closed_form,
    new_two_tower,
    retrieval_model_from_state_dict,
)
from reelrank.models.retrieval.item_item import ItemItemModel, histories_from_pairs

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


def test_fold_in_scales_each_part_for_its_query_and_weighs_it_by_history_length() -> None:
    blend = _blend()
    fold_in = FoldIn(tower_weight=0.3, shrinkage=4.0, popularity=2.0, popularity_offset=1.0)
    blend.calibrate(weight=CONFIG.blend_weight, fold_in=fold_in)
    counts = torch.bincount(_pairs()[1], minlength=N_MOVIES + 1).double()
    pop = torch.log1p(counts)[1:]
    for history in (torch.tensor([3]), torch.tensor([1, 4, 4, 0, 7])):  # repeats, unknown 0
        n = len(set(history.tolist()) - {0})
        item = blend.item_item.score_history(history)[1:].double()
        tower = blend.two_tower.score_history(history)[1:].double()
        expected = (
            item / item.std() * n / (n + 4.0)
            + 0.3 * tower / tower.std()
            + 2.0 / (n + 1.0) * pop / pop.std()
        )
        got = blend.score_history(history)[1:].double()
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_known_users_get_no_popularity_prior_and_fold_in_weights_are_checked() -> None:
    blend = _blend()
    assert torch.all(blend.user_embedding(torch.arange(N_USERS + 1))[:, -1] == 0)
    assert torch.equal(blend.all_movie_embeddings()[:, -1], blend.log_popularity)
    with pytest.raises(ValueError, match="shrinkage must be >= 0"):
        FoldIn(tower_weight=1.0, shrinkage=-1.0, popularity=0.0, popularity_offset=0.0)


def test_a_part_with_no_spread_is_switched_off_not_divided_by_zero() -> None:
    blend = _blend()
    blend.two_tower.movie_tower.id_embedding.weight.data.zero_()  # every tower score equal
    scores = blend.score_history(torch.tensor([2]))
    assert torch.isfinite(scores[1:]).all()


def test_blend_round_trips_strictly_through_safetensors(tmp_path: Path) -> None:
    blend = _blend()
    save_file({k: v.clone() for k, v in blend.state_dict().items()}, tmp_path / "w.safetensors")
    histories = histories_from_pairs(*_pairs(), n_users=N_USERS, n_movies=N_MOVIES)
    loaded = retrieval_model_from_state_dict(
        CONFIG, load_file(tmp_path / "w.safetensors"), user_histories=histories
    )
    users = torch.arange(N_USERS + 1)
    torch.testing.assert_close(loaded.score_all(users), blend.score_all(users))


def test_fold_in_reuses_the_tower_movie_vectors_until_a_weight_changes() -> None:
    blend = _blend()
    history = torch.tensor([2, 5])
    before = blend.fold_in(history)
    torch.testing.assert_close(blend.fold_in(history), before)
    with torch.no_grad():
        blend.two_tower.movie_tower.id_embedding.weight.mul_(2.0)  # as an optimiser step does
    fresh = Blend(blend.item_item, blend.two_tower)
    fresh.load_state_dict(blend.state_dict())
    torch.testing.assert_close(blend.fold_in(history), fresh.fold_in(history))
    assert not torch.equal(blend.fold_in(history), before)


def test_many_users_are_calibrated_on_a_seeded_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `CALIBRATION_USERS` users the spreads come from a seeded sample (all users x movies
    would not fit at 25M's size): the same sample each time, and close to every user's spread."""
    from reelrank.models.retrieval import blend as blend_module

    every = _blend().scales.clone()
    monkeypatch.setattr(blend_module, "CALIBRATION_USERS", 8)
    sampled, again = _blend().scales, _blend().scales
    assert torch.equal(sampled, again)
    assert not torch.equal(sampled, every)  # the sample was used
    torch.testing.assert_close(sampled, every, rtol=0.35, atol=0.0)


def test_folding_in_many_movies_goes_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """`fold_in_each` holds at most `SCORES_AT_ONCE` scores: chunks give what one batch gives."""
    from reelrank.models.retrieval import blend as blend_module

    model = _blend()
    movies = torch.arange(1, N_MOVIES + 1)
    whole = model.fold_in_each(movies)
    monkeypatch.setattr(blend_module, "SCORES_AT_ONCE", 2 * N_MOVIES)
    torch.testing.assert_close(model.fold_in_each(movies), whole)
    torch.testing.assert_close(whole[2], model.fold_in(movies[2:3]), rtol=1e-5, atol=1e-6)
