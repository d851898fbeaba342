"""Shared fixtures: the package's synthetic data set, and a small model trained on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelrank.config import ExperimentConfig, TrainingConfig
from reelrank.experiment.run import train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.testing.ml100k_files import synthetic_ratings, write_grouplens
from reelrank.types import Ratings


@pytest.fixture(scope="session", autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Nothing a test runs writes to the real data directory (the default rating store)."""
    before = os.environ.get("REELRANK_DATA_DIR")
    os.environ["REELRANK_DATA_DIR"] = str(tmp_path_factory.mktemp("data-dir"))
    yield
    if before is None:
        os.environ.pop("REELRANK_DATA_DIR", None)
    else:
        os.environ["REELRANK_DATA_DIR"] = before


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
