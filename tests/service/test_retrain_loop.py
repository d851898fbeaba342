"""The loop end to end, on the synthetic data: serve with a store, write a new user's ratings and
add a new movie that people rate, retrain from the data set and the store (warm-started from the
served model) over the served artifact, take the new model up without a restart, and see the new
user known to it and the new movie in people's lists."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
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
        # A new movie, served at once, and loved by most of those who rated one popular movie.
        added = client.post(
            "/movies", json={"title": "Loop Film", "genres": ["Drama"], "year": 2026}, headers=AUTH
        )
        assert added.status_code == 201, added.text
        new_movie = added.json()["movie_id"]
        popular = int(np.argmax(np.bincount(two_stage.seen.movie_idx)))
        kindred = [
            two_stage.catalog.users.term(u)
            for u in range(1, two_stage.catalog.users.size)
            if popular in two_stage.seen.movies_of(u)
        ]
        third = len(kindred) // 3
        fans, others = kindred[third:], kindred[:third]
        for user in fans:
            answer = client.put(
                f"/users/{user}/ratings/{new_movie}", json={"rating": 5}, headers=AUTH
            )
            assert answer.status_code == 200
        only_new = client.get("/users/1/recommendations", params={"year_from": 2026}).json()
        assert [r["movie_id"] for r in only_new["recommendations"]] == [new_movie]

        def listing_it() -> int:
            """How many of the fans' kin (who did not rate it) have it in their top 10."""
            lists = [client.get(f"/users/{u}/recommendations").json() for u in others]
            return sum(new_movie in {r["movie_id"] for r in x["recommendations"]} for x in lists)

        # Its ratings refine it within the server's poll of the store: before any retrain, the
        # fans' kin get it in their lists.
        deadline = time.monotonic() + 10
        while listing_it() < len(others) // 2:
            assert time.monotonic() < deadline, "the ratings never reached the new movie"
            time.sleep(0.2)
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
        # Its rating ensemble starts warm too, judged on ratings the served one never learned
        # (see reelrank.experiment.run._warm_start).
        assert retrained.data_info["warm_start"]["rating"]["held_out"] > 0
        # Without the key (no stored history read), the list is now the model's own for them.
        answer = client.get("/users/newcomer/recommendations", params={"k": 5})
        assert answer.status_code == 200 and answer.json()["basis"] == "personal"
        shown = [r["movie_id"] for r in answer.json()["recommendations"]]
        assert shown == [r.movie_id for r in retrained.recommend("newcomer", 5)]
        assert not set(shown) & set(liked)  # what they rated is left out

        # The new movie has a trained row of its own now, and is in people's lists.
        row = retrained.catalog.resolve_movie(new_movie)
        assert 0 < row < retrained.catalog.trained
        assert retrained.data_info["store"]["new_movies"] == 1
        assert listing_it() >= len(others) // 3
        assert client.get(f"/movies/{new_movie}").json()["movie_title"] == "Loop Film (2026)"
