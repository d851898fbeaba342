"""End to end on the real MovieLens 100k, fetched through reelrank's own data sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelrank.cli import app
from reelrank.config import preset
from reelrank.data.movielens.ml100k.load import load_movielens_100k
from reelrank.experiment.run import train_recommender

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache directory: the data comes through the source chain, not from ../shared."""
    return tmp_path_factory.mktemp("reelrank-cache")


def test_seed_preset_on_real_movielens(real_cache: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo"
    result = runner.invoke(
        app,
        ["train", "--preset", "seed", "--out", str(out), "--cache-dir", str(real_cache), "--json"],
    )
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["train_ratings"] == 80_000 and metrics["test_ratings"] == 20_000
    # TFRS measured 1.1055 on this data; the issue accepts 1.05..1.17.
    assert 1.05 <= metrics["root_mean_squared_error"] <= 1.17

    result = runner.invoke(app, ["recommend", str(out), "--user", "9", "-k", "3", "--json"])
    assert result.exit_code == 0, result.stderr
    recs = json.loads(result.stdout)["recommendations"]
    assert len(recs) == 3 and all(1.0 <= r["predicted_rating"] <= 5.5 for r in recs)

    info = runner.invoke(app, ["data", "info", "--cache-dir", str(real_cache), "--json"])
    assert info.exit_code == 0, info.stderr
    counts = json.loads(info.stdout)
    assert (counts["users"], counts["movies"], counts["ratings"]) == (943, 1682, 100_000)


def test_served_lists_beat_popularity_on_real_movielens(real_cache: Path) -> None:
    """What people are served (the two-tower preset's lists and the full two-stage product's
    known-user and liked-movies lists) finds more of a user's held-out movies than "most
    popular", the baseline any learned model must beat; the retrieval stage alone too."""
    ratings = load_movielens_100k(cache_dir=real_cache, notify=lambda _: None)
    figures = {
        name: train_recommender(ratings, preset(name)).metrics
        for name in ("popularity", "two-tower", "two-stage")
    }
    popularity = figures.pop("popularity")
    # Measured on this split: popularity 0.115 / 0.213, EASE 0.236 / 0.442.
    assert popularity["retrieval/recall@10"] == pytest.approx(0.1148, abs=0.002)
    assert popularity["known_user/recall@10"] == pytest.approx(0.1148, abs=0.002)
    for name, metrics in figures.items():
        for path in ("retrieval", "known_user", "liked"):
            for metric in ("recall@10", "ndcg@10", "recall@100"):
                key = f"{path}/{metric}"
                baseline = popularity[key]
                # Measured: at least 1.65x on the known-user list, 1.44x on the liked list.
                margin = 1.25 if path == "liked" else 1.4
                assert metrics[key] > baseline * margin, (name, key, metrics[key], baseline)
    # The product's known-user list is retrieval's order (docs/ranking_research.md).
    two_stage = figures["two-stage"]
    # Its predicted ratings are the `best` ensemble's (measured: 0.8869 on this split).
    assert two_stage["root_mean_squared_error"] < 0.900
    assert two_stage["known_user/recall@10"] == pytest.approx(two_stage["retrieval/recall@10"])
