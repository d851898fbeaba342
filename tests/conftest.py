"""Shared fixtures: the package's synthetic data set, and a small model trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelrank.config import ExperimentConfig, TrainingConfig
from reelrank.experiment.run import train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.testing.ml100k_files import synthetic_ratings, write_grouplens
from reelrank.types import Ratings


@pytest.fixture(scope="session")
def ratings() -> Ratings:
    return synthetic_ratings()


@pytest.fixture(scope="session")
def grouplens_dir(tmp_path_factory: pytest.TempPathFactory, ratings: Ratings) -> Path:
    return write_grouplens(ratings, tmp_path_factory.mktemp("ml-synthetic"))


@pytest.fixture(scope="session")
def small_config() -> ExperimentConfig:
    return ExperimentConfig(
        preset="test", training=TrainingConfig(batch_size=256, epochs=5, learning_rate=0.1)
    )


@pytest.fixture(scope="session")
def recommender(ratings: Ratings, small_config: ExperimentConfig) -> Recommender:
    return train_recommender(ratings, small_config)


@pytest.fixture(scope="session")
def artifact(tmp_path_factory: pytest.TempPathFactory, recommender: Recommender) -> Path:
    return recommender.save(tmp_path_factory.mktemp("artifacts") / "model")
