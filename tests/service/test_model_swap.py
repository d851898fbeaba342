"""A new model is taken up without a restart: `POST /admin/reload` (the operator's key) or the
server's own check every `reload_every` seconds; a corrupt artifact is refused and the old model
goes on serving; stored ratings are untouched."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.service.reload import artifact_version
from reelrank.store import RatingStore

KEY = "operator-key-for-swap-tests-0123456"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def served_path(two_stage_artifact: Path, tmp_path: Path) -> Path:
    """A copy of the two-stage artifact that tests may save over."""
    return Path(shutil.copytree(two_stage_artifact, tmp_path / "served"))


def _titles(client: TestClient, user: str) -> list[str]:
    answer = client.get(f"/users/{user}/recommendations", params={"k": 5})
    assert answer.status_code == 200, answer.text
    return [r["movie_title"] for r in answer.json()["recommendations"]]


def test_a_new_artifact_is_taken_up_on_reload_and_writes_go_on(
    served_path: Path, recommender: Recommender, two_stage: Recommender, tmp_path: Path
) -> None:
    user = str(two_stage.catalog.users.terms[1])
    movie = str(two_stage.catalog.table.movie_id[1])
    with RatingStore(tmp_path / "store.sqlite3") as store:
        app = create_app(artifact=served_path, store=store, api_key=KEY)
        with TestClient(app) as client:
            before = client.get("/health").json()
            assert before["preset"] == "two-stage"
            assert before["model_version"] == artifact_version(served_path)
            assert _titles(client, user) == [r.movie_title for r in two_stage.recommend(user, 5)]
            put = client.put(f"/users/w1/ratings/{movie}", json={"rating": 4}, headers=AUTH)
            assert put.status_code == 200
            # Nothing new yet: nothing changes.
            same = client.post("/admin/reload", headers=AUTH).json()
            assert same == {"reloaded": False, "version": before["model_version"], "previous": None}

            recommender.save(served_path)  # a retrain saved over the served artifact
            answer = client.post("/admin/reload", headers=AUTH)
            assert answer.status_code == 200, answer.text
            swapped = answer.json()
            assert swapped["reloaded"] and swapped["previous"] == before["model_version"]
            after = client.get("/health").json()
            assert after["model_version"] == swapped["version"] != before["model_version"]
            assert after["preset"] == recommender.config.preset
            assert _titles(client, user) == [r.movie_title for r in recommender.recommend(user, 5)]
            put = client.put(f"/users/w2/ratings/{movie}", json={"rating": 5}, headers=AUTH)
            assert put.status_code == 200
            metrics = client.get("/metrics", headers=AUTH).text
            assert f'version="{swapped["version"]}"' in metrics
            assert 'reelrank_model_swaps_total{outcome="taken"' in metrics
        assert {r.user_id for batch in store.all_ratings() for r in batch} == {"w1", "w2"}


def test_a_corrupt_artifact_is_refused_and_the_old_model_goes_on(
    served_path: Path, two_stage: Recommender
) -> None:
    user = str(two_stage.catalog.users.terms[1])
    with TestClient(create_app(artifact=served_path, api_key=KEY)) as client:
        version = client.get("/health").json()["model_version"]
        expected = _titles(client, user)
        weights = served_path / "weights.safetensors"
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
        (served_path / "manifest.json").write_text(
            (served_path / "manifest.json").read_text() + " "  # a new version, still corrupt
        )
        answer = client.post("/admin/reload", headers=AUTH)
        assert answer.status_code == 422, answer.text
        assert "refused" in answer.json()["detail"] and version in answer.json()["detail"]
        assert client.get("/health").json()["model_version"] == version
        assert _titles(client, user) == expected
        shutil.rmtree(served_path)  # gone altogether: refused the same way
        assert client.post("/admin/reload", headers=AUTH).status_code == 422
        assert _titles(client, user) == expected


def test_reload_needs_the_key_and_an_artifact(two_stage: Recommender, served_path: Path) -> None:
    with TestClient(create_app(artifact=served_path, api_key=KEY)) as client:
        assert client.post("/admin/reload").status_code == 401
    with TestClient(create_app(two_stage, api_key=KEY)) as client:
        answer = client.post("/admin/reload", headers=AUTH)
        assert answer.status_code == 409 and "from memory" in answer.json()["detail"]


def test_the_server_takes_up_a_new_artifact_by_itself(
    served_path: Path, recommender: Recommender
) -> None:
    with TestClient(create_app(artifact=served_path, reload_every=0.1)) as client:
        first = client.get("/health").json()["model_version"]
        recommender.save(served_path)
        deadline = time.monotonic() + 20
        while client.get("/health").json()["model_version"] == first:
            assert time.monotonic() < deadline, "the new artifact was not taken up"
            time.sleep(0.05)
        assert client.get("/health").json()["preset"] == recommender.config.preset
