"""`/metrics` (Prometheus' text format, the operator's key) and `/health`'s model and store
state: what an operator watches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from reelrank.errors import StoreError
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.service.metrics import _StoreSize
from reelrank.service.reload import artifact_version
from reelrank.store import RatingStore

KEY = "operator-key-for-metrics-tests-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def served(two_stage: Recommender, tmp_path: Path) -> Iterator[tuple[TestClient, RatingStore]]:
    store = RatingStore(tmp_path / "store.sqlite3")
    with store, TestClient(create_app(two_stage, store=store, api_key=KEY)) as client:
        yield client, store


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels (the `worker` label left out)."""
    answer = client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "worker"))
            samples[(sample.name, labels)] = sample.value
    return samples


def test_metrics_count_requests_by_route_writes_lists_and_the_store(
    served: tuple[TestClient, RatingStore], two_stage: Recommender
) -> None:
    client, _ = served
    movie = str(two_stage.catalog.table.movie_id[1])
    user = str(two_stage.catalog.users.terms[1])
    for n in range(3):
        answer = client.put(f"/users/new-{n}/ratings/{movie}", json={"rating": 5}, headers=AUTH)
        assert answer.status_code == 200
    assert client.delete(f"/users/new-0/ratings/{movie}", headers=AUTH).status_code == 204
    assert client.get(f"/users/{user}/recommendations").status_code == 200
    assert client.get("/users/nobody/recommendations").status_code == 404
    assert client.get("/users/new-1/recommendations", headers=AUTH).status_code == 200
    samples = scrape(client)

    route = "/users/{user_id}/ratings/{movie_id}"
    assert (
        samples[
            ("reelrank_requests_total", (("method", "PUT"), ("route", route), ("status", "200")))
        ]
        == 3
    )
    recs = "/users/{user_id}/recommendations"
    assert (
        samples[
            ("reelrank_requests_total", (("method", "GET"), ("route", recs), ("status", "404")))
        ]
        == 1
    )
    # Ids never become label values: only route templates do.
    assert not any(
        "nobody" in value or "new-1" in value for _, labels in samples for _, value in labels
    )
    assert samples[("reelrank_request_seconds_count", (("method", "PUT"), ("route", route)))] == 3
    assert samples[("reelrank_ratings_written_total", ())] == 3
    assert samples[("reelrank_ratings_deleted_total", ())] == 1
    assert samples[("reelrank_lists_served_total", (("basis", "personal"),))] == 2
    assert samples[("reelrank_store_ratings", ())] == 2
    assert samples[("reelrank_store_users", ())] == 3
    assert (
        samples[("reelrank_model_info", (("preset", "two-stage"), ("version", "in-memory")))] == 1
    )


def test_metrics_need_the_operators_key(
    served: tuple[TestClient, RatingStore], two_stage: Recommender
) -> None:
    client, _ = served
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    with TestClient(create_app(two_stage)) as keyless:
        answer = keyless.get("/metrics", headers=AUTH)
        assert answer.status_code == 403 and "--api-key-file" in answer.json()["detail"]


def test_health_names_the_artifact_version_and_the_stores_state(
    two_stage_artifact: Path, tmp_path: Path
) -> None:
    store = RatingStore(tmp_path / "store.sqlite3")
    app = create_app(artifact=two_stage_artifact, store=store, api_key=KEY)
    with TestClient(app) as client:
        health = client.get("/health").json()
        version = artifact_version(two_stage_artifact)
        assert health["model_version"] == version and len(version) == 12
        assert health["store_state"] == "ok"
        samples = scrape(client)
        assert (
            samples[("reelrank_model_info", (("preset", "two-stage"), ("version", version)))] == 1
        )
        saved = samples[("reelrank_model_saved_timestamp_seconds", ())]
        assert saved == pytest.approx((two_stage_artifact / "manifest.json").stat().st_mtime)
        app.state.store = _Broken()
        assert client.get("/health").json()["store_state"] == "unavailable"
        # The store's size is left out of a scrape while the store cannot answer.
        assert list(_StoreSize(_Broken()).collect()) == []
    store.close()


class _Broken:
    """A store whose server went away: every query fails."""

    def ping(self) -> None:
        raise StoreError("the store failed: connection refused")

    def info(self) -> None:
        self.ping()


def test_the_operators_status_shows_model_store_and_counters(
    served: tuple[TestClient, RatingStore], two_stage: Recommender
) -> None:
    client, _ = served
    assert client.get("/admin/status").status_code == 401
    movie = str(two_stage.catalog.table.movie_id[1])
    assert (
        client.put(f"/users/op/ratings/{movie}", json={"rating": 4}, headers=AUTH).status_code
        == 200
    )
    status = client.get("/admin/status", headers=AUTH).json()
    assert status["model"]["preset"] == "two-stage" and status["model"]["version"] is None
    assert status["model"]["users"] == len(two_stage.catalog.users)
    assert set(status["model"]["evaluation"]) <= set(two_stage.metrics)
    assert status["store"]["state"] == "ok" and status["store"]["ratings"] == 1
    assert status["service"]["ratings_written"] == 1
    route = "PUT /users/{user_id}/ratings/{movie_id}"
    assert status["service"]["requests"][route] == {"200": 1}
    page = client.get("/admin")
    assert page.status_code == 200 and "Operator's API key" in page.text
