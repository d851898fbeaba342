"""Service fixtures: a small two-stage recommender on the synthetic data, its artifact, clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reelrank.config import PRESETS, ExperimentConfig, TrainingConfig
from reelrank.experiment.run import train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.types import Ratings

# The rating model is an ensemble, blended on validation rows: a tenth stays held out.
SMALL_TRAINING = TrainingConfig(batch_size=256, epochs=3, validation_fraction=0.1)


def two_stage_config() -> ExperimentConfig:
    """The two-stage preset, trained briefly (retrieval hands candidates to ranking)."""
    config = PRESETS["two-stage"]
    retrieval_training = config.retrieval_training and dataclasses.replace(
        config.retrieval_training, batch_size=256, epochs=2
    )
    return dataclasses.replace(
        config, training=SMALL_TRAINING, retrieval_training=retrieval_training
    )


@pytest.fixture(scope="session")
def two_stage(ratings: Ratings) -> Recommender:
    recommender = train_recommender(ratings, two_stage_config())
    assert recommender.two_stage
    return recommender


@pytest.fixture(scope="session")
def two_stage_artifact(tmp_path_factory: pytest.TempPathFactory, two_stage: Recommender) -> Path:
    return two_stage.save(tmp_path_factory.mktemp("service") / "two-stage")


@pytest.fixture(scope="module")
def client(two_stage: Recommender) -> Iterator[TestClient]:
    """A client of the app serving the two-stage recommender (lifespan run)."""
    with TestClient(create_app(two_stage)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def ranking_only_client(recommender: Recommender) -> Iterator[TestClient]:
    """A client of the app serving the seed-style ranking-only recommender."""
    with TestClient(create_app(recommender)) as test_client:
        yield test_client
