"""A retrain starts from the earlier model's weights where they fit: rows by id, new ids fresh,
buffers and reshaped layers never copied."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.config import ExperimentConfig, RatingComponent, RatingModelConfig, TrainingConfig
from reelrank.data.encoding.vocabulary import Vocabulary
from reelrank.experiment.run import train_recommender
from reelrank.models.rating.ensemble import Ensemble
from reelrank.models.rating.mlp import RatingMLP
from reelrank.recommender.recommender import Recommender
from reelrank.training.warm_start import row_map, warm_start
from reelrank.types import Ratings


def _vocab(*terms: str, name: str) -> Vocabulary:
    return Vocabulary(np.array(sorted(terms)), name=name)


def test_rows_follow_their_ids_and_new_ids_stay_fresh() -> None:
    old_users = _vocab("a", "b", "c", name="user_id")
    new_users = _vocab("a", "aa", "c", "d", name="user_id")  # b left, aa and d came
    movies = _vocab("m1", "m2", name="movie_title")
    assert row_map(old_users, new_users).tolist() == [0, 1, -1, 3, -1]
    config = RatingModelConfig()
    generator = torch.Generator().manual_seed(0)
    old = RatingMLP(config, n_users=3, n_movies=2, generator=generator)
    new = RatingMLP(config, n_users=4, n_movies=2, generator=generator)
    fresh = {name: p.detach().clone() for name, p in new.named_parameters()}
    report = warm_start(new, old, users=(old_users, new_users), movies=(movies, movies))
    old_params, new_params = dict(old.named_parameters()), dict(new.named_parameters())
    user_table = next(n for n, p in new_params.items() if p.shape[0] == 5)
    assert torch.equal(new_params[user_table][1], old_params[user_table][1])  # a
    assert torch.equal(new_params[user_table][3], old_params[user_table][3])  # c
    assert torch.equal(new_params[user_table][2], fresh[user_table][2])  # aa: fresh
    assert torch.equal(new_params[user_table][4], fresh[user_table][4])  # d: fresh
    # Everything else of the same shape is copied whole.
    for name, param in new_params.items():
        if name != user_table:
            assert torch.equal(param, old_params[name]), name
    assert report.tables >= 1 and report.rows_kept >= 3 and report.fresh == 0


def test_a_layer_of_another_shape_is_left_fresh() -> None:
    users, movies = _vocab("a", name="user_id"), _vocab("m", name="movie_title")
    old = RatingMLP(RatingModelConfig(hidden_dims=(16, 4)), n_users=1, n_movies=1)
    new = RatingMLP(RatingModelConfig(hidden_dims=(8, 4)), n_users=1, n_movies=1)
    before = {name: p.detach().clone() for name, p in new.named_parameters()}
    report = warm_start(new, old, users=(users, users), movies=(movies, movies))
    assert report.fresh > 0
    changed = [n for n, p in new.named_parameters() if not torch.equal(p, before[n])]
    assert changed  # the embeddings came over
    assert all(dict(old.named_parameters())[n].shape == before[n].shape for n in changed)


def test_train_warm_starts_from_an_artifact_of_the_same_preset(
    grouplens_dir: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["train", "--data", str(grouplens_dir), "--epochs", "1", "--json"]
    first = runner.invoke(app, [*base, "--out", str(tmp_path / "one")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        app, [*base, "--out", str(tmp_path / "two"), "--warm-start", str(tmp_path / "one")]
    )
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["artifact"] == str(tmp_path / "two")
    taken = Recommender.load(tmp_path / "two").data_info["warm_start"]["rating"]
    assert taken["copied"] > 0 and taken["rows_kept"] == taken["rows"]  # the same ids
    other = runner.invoke(
        app,
        [
            *base,
            "--preset",
            "two-tower",
            "--out",
            str(tmp_path / "three"),
            "--warm-start",
            str(tmp_path / "one"),
        ],
    )
    assert other.exit_code == 1 and "same preset" in other.output
    assert not (tmp_path / "three").exists()


def test_a_warm_ensemble_is_judged_on_ratings_its_start_never_learned(ratings: Ratings) -> None:
    fast = TrainingConfig(batch_size=256, epochs=3, validation_fraction=0.1, patience=1)
    members = (
        RatingComponent(RatingModelConfig(kind="mf", embedding_dim=8), fast),
        RatingComponent(RatingModelConfig(biases=True), fast),
    )
    config = ExperimentConfig(
        preset="test-ensemble",
        rating=RatingModelConfig(kind="ensemble", components=members),
        training=fast,
    )
    earlier = np.sort(np.argsort(ratings.timestamp, kind="stable")[: int(0.9 * len(ratings))])
    old = train_recommender(ratings.take(earlier), config)
    new = train_recommender(ratings, config, warm_from=old)
    assert isinstance(old.rater, Ensemble) and isinstance(new.rater, Ensemble)
    old_held = _named(old, old.rater.held_out.numpy())
    new_held = _named(new, new.rater.held_out.numpy())
    learned = _named(old, _training_pairs(old)) - old_held
    assert new_held and not new_held & learned  # nothing it is judged on was learned before
    # Every rating held out before that is still a training rating is held out again.
    assert old_held & _named(new, _training_pairs(new)) <= new_held
    taken = new.data_info["warm_start"]["rating"]
    assert taken["copied"] > 0 and taken["held_out"] == len(new.rater.held_out)


def _training_pairs(model: Recommender) -> np.ndarray:
    """`[n, 2]` (user, movie) rows of a recommender's training ratings."""
    seen = model.seen
    users = np.repeat(np.arange(len(seen.indptr) - 1), np.diff(seen.indptr))
    return np.stack([users, seen.movie_idx], axis=1)


def _named(model: Recommender, pairs: np.ndarray) -> set[tuple[str, str]]:
    return {(model.catalog.users.term(int(u)), model.catalog.movie_title(int(m))) for u, m in pairs}
