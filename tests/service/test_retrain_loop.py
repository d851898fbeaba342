"""The loop end to end, on the synthetic data: serve with a store, write a new user's ratings,
retrain from the data set and the store (warm-started from the served model) over the served
artifact, take the new model up without a restart, and see the new user known to it."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reelrank.cli import app as cli
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.store import RatingStore

KEY = "operator-key-for-the-loop-test-012"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_serve_write_retrain_from_the_store_swap(
    grouplens_dir: Path, two_stage_artifact: Path, two_stage: Recommender, tmp_path: Path
) -> None:
    served = Path(shutil.copytree(two_stage_artifact, tmp_path / "served"))
    store_path = tmp_path / "store.sqlite3"
    liked = [str(m) for m in two_stage.catalog.table.movie_id[1:13]]
    store = RatingStore(store_path)
    with store, TestClient(create_app(artifact=served, store=store, api_key=KEY)) as client:
        for movie in liked:
            answer = client.put(
                f"/users/newcomer/ratings/{movie}", json={"rating": 5}, headers=AUTH
            )
            assert answer.status_code == 200
        assert "newcomer" not in two_stage.catalog.users  # the served model never saw them
        before = client.get("/health").json()["model_version"]

        # The retrain: the data set and the store, from the served model's weights, saved over
        # the served artifact (while the server goes on serving it).
        retrain = CliRunner().invoke(
            cli,
            [
                "train", "--preset", "two-stage", "--data", str(grouplens_dir), "--epochs", "1",
                "--store", str(store_path), "--warm-start", str(served), "--out", str(served),
                "--json",
            ],
        )  # fmt: skip
        assert retrain.exit_code == 0, retrain.output
        swapped = client.post("/admin/reload", headers=AUTH).json()
        assert swapped["reloaded"] and swapped["previous"] == before

        retrained = Recommender.load(served)
        assert "newcomer" in retrained.catalog.users
        assert retrained.data_info["store"]["new_users"] == 1
        assert retrained.data_info["warm_start"]["retrieval"]["copied"] > 0
        # Its rating ensemble is trained afresh (see reelrank.experiment.run._warm_start).
        assert retrained.data_info["warm_start"]["rating"] == "trained afresh: an ensemble"
        # Without the key (no stored history read), the list is now the model's own for them.
        answer = client.get("/users/newcomer/recommendations", params={"k": 5})
        assert answer.status_code == 200 and answer.json()["basis"] == "personal"
        shown = [r["movie_id"] for r in answer.json()["recommendations"]]
        assert shown == [r.movie_id for r in retrained.recommend("newcomer", 5)]
        assert not set(shown) & set(liked)  # what they rated is left out
