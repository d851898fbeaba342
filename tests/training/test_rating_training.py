"""Training rating models: validation carved from the training rows, early stopping that keeps
the best epoch, the cosine schedule, AutoRec's two optimisers, and ensembles blended on
validation; end to end through `train_recommender` and an artifact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from reelrank.config import (
    ExperimentConfig,
    RatingComponent,
    RatingModelConfig,
    TrainingConfig,
    preset,
)
from reelrank.errors import ReelrankError
from reelrank.experiment.build import build_rating_model, sized_for
from reelrank.experiment.run import train_recommender
from reelrank.experiment.split import SplitData, prepare
from reelrank.models.rating.autorec import AutoRec
from reelrank.models.rating.ensemble import Ensemble
from reelrank.recommender.recommender import Recommender
from reelrank.training import rating as rating_training
from reelrank.training.loop import Progress, RunContext
from reelrank.training.optimizers import learning_rate_at
from reelrank.training.rating import fit_rating_model, split_validation
from reelrank.training.validation import validation_rmse
from reelrank.types import Ratings

MF = RatingModelConfig(kind="mf", embedding_dim=8, l2=0.05)
ADAM = TrainingConfig(optimizer="adam", learning_rate=0.01, batch_size=128, epochs=4)
AUTOREC = RatingModelConfig(kind="autorec", hidden_dims=(16,), l2=5.0)


def _data(ratings: Ratings, model: RatingModelConfig) -> tuple[ExperimentConfig, SplitData]:
    config = ExperimentConfig(preset="test", rating=model, training=ADAM)
    return config, prepare(ratings, config)


def test_validation_is_a_seeded_sample_of_the_training_rows(ratings: Ratings) -> None:
    _, data = _data(ratings, MF)
    fit, held = split_validation(data.train, 0.1, seed=3)
    assert len(held) == round(0.1 * len(data.train)) and len(fit) + len(held) == len(data.train)
    pairs = {(u, m) for u, m in zip(data.train.user_idx, data.train.movie_idx, strict=True)}
    for part in (fit, held):
        assert {(u, m) for u, m in zip(part.user_idx, part.movie_idx, strict=True)} <= pairs
    again, _ = split_validation(data.train, 0.1, seed=3)
    np.testing.assert_array_equal(again.user_idx, fit.user_idx)
    with pytest.raises(ValueError, match="validation_fraction"):
        split_validation(data.train, 0.0, seed=3)


def test_cosine_schedule_falls_from_the_rate_towards_zero() -> None:
    config = TrainingConfig(learning_rate=0.1, epochs=4, schedule="cosine")
    rates = [learning_rate_at(config, epoch) for epoch in range(1, 5)]
    assert rates[0] == pytest.approx(0.1) and rates == sorted(rates, reverse=True)
    assert rates[-1] > 0
    assert learning_rate_at(TrainingConfig(learning_rate=0.1), 3) == 0.1


def test_early_stopping_keeps_the_best_epoch(ratings: Ratings) -> None:
    """A learning rate far too high makes validation worse after the first epochs: training
    stops `patience` epochs after the best one, and the model holds that epoch's weights."""
    config, data = _data(ratings, MF)
    wild = dataclasses.replace(
        ADAM, learning_rate=0.3, epochs=30, patience=2, validation_fraction=0.2
    )
    _, held = split_validation(data.train, 0.2, wild.seed)
    model = build_rating_model(config, data, ratings)
    seen: list[Progress] = []
    history = fit_rating_model(model, data.train, wild, context=RunContext(on_progress=seen.append))
    scores = [p.validation_rmse for p in seen if p.validation_rmse is not None]
    best = min(range(len(scores)), key=scores.__getitem__)
    assert len(history) == len(scores) == best + 1 + 2 < 30
    assert validation_rmse(model, held, 4096) == pytest.approx(scores[best], rel=1e-6)


def test_mf_and_svdpp_learn_better_than_the_mean(ratings: Ratings) -> None:
    for model_config in (MF, dataclasses.replace(MF, implicit=True)):
        config, data = _data(ratings, model_config)
        model = build_rating_model(config, data, ratings)
        fit_rating_model(model, data.train, dataclasses.replace(ADAM, epochs=15))
        mean = float(data.train.rating.mean())
        baseline = float(np.sqrt(np.mean((data.test.rating - mean) ** 2)))
        assert validation_rmse(model, data.test, 4096) < baseline


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_autorec_trains_with_either_optimiser(
    ratings: Ratings, optimizer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L-BFGS on the whole matrix, or (past `FULL_BATCH_CELLS`) Adam on chunks of movies."""
    monkeypatch.setattr(rating_training, "AUTOREC_CHUNK", 16)
    config, data = _data(ratings, AUTOREC)
    model = build_rating_model(config, data, ratings)
    assert isinstance(model, AutoRec)
    training = TrainingConfig(optimizer=optimizer, learning_rate=0.01, epochs=6)
    history = fit_rating_model(model, data.train, training)
    assert len(history) == 6 and history[-1] < history[0]
    assert not model.training
    predicted = model.predict(data.test.user_idx, data.test.movie_idx)
    assert predicted.min() >= data.train.rating.min() and predicted.max() <= 5
    mean = float(data.train.rating.mean())
    assert validation_rmse(model, data.test, 4096) < np.sqrt(
        np.mean((data.test.rating - mean) ** 2)
    )
    # The unknown user (no training rating) gets the mean decoder row, not zeros.
    torch.testing.assert_close(model.decoder.weight[0], model.decoder.weight[1:].mean(0))


def test_an_ensemble_blends_on_validation_and_beats_its_average_model(ratings: Ratings) -> None:
    training = dataclasses.replace(ADAM, epochs=10)
    ensemble = RatingModelConfig(
        kind="ensemble",
        components=(
            RatingComponent(MF, training),
            RatingComponent(AUTOREC, TrainingConfig(optimizer="lbfgs", epochs=5)),
        ),
    )
    config, data = _data(ratings, ensemble)
    model = build_rating_model(config, data, ratings)
    assert isinstance(model, Ensemble)
    fit_rating_model(
        model,
        data.train,
        TrainingConfig(validation_fraction=0.2),
        components=ensemble.components,
    )
    weights = model.blend.tolist()
    assert weights != [0.5, 0.5, 0.0]  # fitted, not the starting average
    _, held = split_validation(data.train, 0.2, 42)
    blended = validation_rmse(model, held, 4096)
    members = [validation_rmse(m, held, 4096) for m in model.models]  # type: ignore[arg-type]
    assert blended <= min(members) + 1e-6  # least squares on these rows: never worse
    with pytest.raises(ValueError, match="validation_fraction above 0"):
        fit_rating_model(model, data.train, TrainingConfig(), components=ensemble.components)


def test_a_tiny_best_preset_trains_saves_and_serves(ratings: Ratings, tmp_path: Path) -> None:
    """`--preset best`'s shape on the synthetic data, end to end: trained, evaluated, saved,
    loaded with the same ratings, and recommending."""
    best = preset("best")
    assert best.rating is not None
    quick = tuple(
        RatingComponent(
            dataclasses.replace(c.model, embedding_dim=8, hidden_dims=(16,))
            if c.model.kind == "autorec"
            else dataclasses.replace(c.model, embedding_dim=8),
            dataclasses.replace(c.training, epochs=3),
        )
        for c in best.rating.components
    )
    config = dataclasses.replace(best, rating=dataclasses.replace(best.rating, components=quick))
    trained = train_recommender(ratings, config)
    assert 0 < trained.metrics["root_mean_squared_error"] < 1.5
    loaded = Recommender.load(trained.save(tmp_path / "best"))
    movies = np.arange(1, 11)
    np.testing.assert_allclose(loaded.predict(3, movies), trained.predict(3, movies), rtol=1e-5)
    np.testing.assert_allclose(loaded.predict(0, movies), trained.predict(0, movies), rtol=1e-5)
    assert len(loaded.recommend("3", k=5)) == 5


def test_command_line_overrides_reach_every_model_of_an_ensemble() -> None:
    from reelrank.cli.train import build_config

    config = build_config("best", epochs=2, split=None, seed=7, batch_size=64)
    assert config.rating is not None and config.rating.components
    for component in config.rating.components:
        training = component.training
        assert (training.epochs, training.seed, training.batch_size) == (2, 7, 64)
        assert training.validation_fraction == 0.05  # what the preset chose stays


def test_an_ensemble_leaves_out_models_past_their_size_and_saves_what_it_kept(
    ratings: Ratings, tmp_path: Path
) -> None:
    """`max_cells`: a model limited to smaller data is left out, and the saved config lists
    only the models trained; with none left, the error names the limit."""
    small = RatingComponent(AUTOREC, TrainingConfig(optimizer="lbfgs", epochs=2), max_cells=10)
    kept = RatingComponent(MF, dataclasses.replace(ADAM, epochs=2))
    ensemble = RatingModelConfig(kind="ensemble", components=(small, kept))
    config = ExperimentConfig(
        preset="test", rating=ensemble, training=TrainingConfig(validation_fraction=0.1)
    )
    trained = train_recommender(ratings, config)
    assert trained.config.rating is not None
    assert trained.config.rating.components == (kept,)
    assert isinstance(trained.rater, Ensemble) and len(trained.rater.models) == 1
    loaded = Recommender.load(trained.save(tmp_path / "sized"))
    np.testing.assert_allclose(
        loaded.predict(2, np.arange(1, 6)), trained.predict(2, np.arange(1, 6))
    )
    only_small = dataclasses.replace(
        config, rating=dataclasses.replace(ensemble, components=(small,))
    )
    with pytest.raises(ReelrankError, match="limited to fewer users x movies cells"):
        train_recommender(ratings, only_small)
    assert sized_for(config, n_users=2, n_movies=2) == config  # 9 cells: everything fits
