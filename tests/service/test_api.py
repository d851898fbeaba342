"""The HTTP API through the test client: every endpoint, its answers and its errors."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reelrank.config import preset
from reelrank.data.catalog.catalog import ListFilter
from reelrank.data.catalog.titles import AmbiguousTitleError
from reelrank.experiment.run import train_recommender
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.service.app import ARTIFACT_ENV, app_from_env
from reelrank.service.schemas import MAX_BODY_BYTES, MAX_K, MAX_LIST, MAX_SEARCH
from reelrank.types import GENRES, Ratings

# Synthetic data: users "1".."60"; movie id N is titled "<Word> <Word> N (<year>)".


def title_of(model: Recommender, movie_id: str) -> str:
    return model.catalog.id_to_title[movie_id]


def assert_error(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


# -- health, docs, page --------------------------------------------------------------------------


def test_health_says_what_is_loaded(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/health").json()
    assert body == {
        "status": "ok",
        "preset": "two-stage",
        "two_stage": True,
        "retrieval": True,
        "users": len(two_stage.catalog.users),
        "movies": len(two_stage.catalog.movies),
        "genres": list(GENRES[1:]),
        "store": False,  # this app keeps no ratings
        "store_state": "none",
        "model_version": None,  # served from memory, not an artifact
    }


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/health",
        "/movies/new",
        "/movies",
        "/movies/to-rate",
        "/movies/{movie_id}",
        "/movies/{movie_id}/similar",
        "/users",
        "/users/{user_id}/ratings",
        "/users/{user_id}/ratings/{movie_id}",
        "/users/{user_id}/recommendations",
        "/recommendations",
        "/ratings",
        "/score",
        "/me",
        "/metrics",
        "/admin/reload",
        "/admin/status",
    }
    # Our error body, not FastAPI's default list-shaped one, is what 422 documents.
    invalid = schema["paths"]["/score"]["post"]["responses"]["422"]
    assert invalid["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_the_api_docs_load_nothing_from_elsewhere(client: TestClient) -> None:
    """`/docs` once loaded Swagger UI from a CDN: a blank page offline."""
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "http://" not in docs.text and "https://" not in docs.text
    for asset in re.findall(r'(?:src|href)="([^"]+)"', docs.text):
        assert asset.startswith("/docs/assets/"), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 0, asset
    assert "/openapi.json" in docs.text
    assert client.get("/redoc").status_code == 404  # ReDoc has no local copy: not offered


@pytest.mark.parametrize(
    "path", ["/", "/health", "/movies?query=a", "/static/app.js", "/docs", "/users/5/ratings"]
)
def test_head_answers_where_get_does_without_a_body(client: TestClient, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if "content-length" in get.headers:
        assert head.headers["content-length"] == get.headers["content-length"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/users/nobody/ratings", 404),
        ("GET", "/movies?limit=0", 422),
        ("POST", "/recommendations", 422),
        ("DELETE", "/health", 405),
        ("GET", "/static/app.js", 200),
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_page_and_its_assets_are_served_same_origin(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "/static/app.js" in html and "/static/style.css" in html
    assert "http://" not in html and "https://" not in html  # nothing loaded from elsewhere
    for asset in ("/static/app.js", "/static/style.css"):
        response = client.get(asset)
        assert response.status_code == 200
        assert "http://" not in response.text and "https://" not in response.text
        assert "@import" not in response.text and "url(" not in response.text


# -- movies --------------------------------------------------------------------------------------


def test_search_is_forgiving_and_capped(client: TestClient, two_stage: Recommender) -> None:
    title = title_of(two_stage, "11")  # e.g. "Star Star 11 (1990)"
    name = title.rsplit(" (", 1)[0]
    body = client.get("/movies", params={"query": name.lower(), "limit": 3}).json()
    assert body["query"] == name.lower()
    assert body["movies"][0]["movie_id"] == "11"
    assert body["movies"][0]["movie_title"] == title
    assert isinstance(body["movies"][0]["year"], int) and body["movies"][0]["genres"]
    word = name.split()[0]
    assert len(client.get("/movies", params={"query": word, "limit": 2}).json()["movies"]) == 2
    assert client.get("/movies", params={"query": ""}).json()["movies"] == []
    assert client.get("/movies").json()["movies"] == []
    assert client.get("/movies", params={"query": "zzzzqqqq"}).json()["movies"] == []


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": MAX_SEARCH + 1}, {"limit": "many"}, {"query": "x" * 201}],
)
def test_search_rejects_bad_arguments(client: TestClient, params: dict[str, Any]) -> None:
    body = assert_error(client.get("/movies", params=params), 422, "invalid request")
    assert body["errors"][0]["loc"][0] == "query"


def test_movie_by_id(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/movies/11").json()
    assert body["movie_id"] == "11" and body["movie_title"] == title_of(two_stage, "11")
    assert_error(client.get("/movies/99999"), 404, "unknown movie id '99999'", "GET /movies")
    # A path segment is an id, never a title: even an exact title is not found here.
    assert_error(client.get(f"/movies/{title_of(two_stage, '11')}"), 404, "unknown movie id")


def test_similar_movies(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/movies/11/similar", params={"k": 4}).json()
    assert body["movie"]["movie_id"] == "11" and body["k"] == 4
    similar = body["similar"]
    assert len(similar) == 4
    assert "11" not in {s["movie_id"] for s in similar}
    scores = [s["retrieval_score"] for s in similar]
    assert scores == sorted(scores, reverse=True)
    assert all(s["predicted_rating"] is None for s in similar)  # similarity is not a rating
    assert all(s["because_title"] is None for s in similar)  # it is because of movie 11
    assert_error(client.get("/movies/99999/similar"), 404, "unknown movie id")
    for k in (0, MAX_K + 1, -1, "ten"):
        assert_error(client.get("/movies/11/similar", params={"k": k}), 422, "query parameter k")


def test_similar_needs_a_retrieval_model(ranking_only_client: TestClient) -> None:
    health = ranking_only_client.get("/health").json()
    assert (health["two_stage"], health["retrieval"]) == (False, False)
    assert_error(ranking_only_client.get("/movies/11/similar"), 422, "no retrieval model")


# -- users ---------------------------------------------------------------------------------------


def test_list_users_pages(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/users", params={"limit": 5}).json()
    assert body["total"] == len(two_stage.catalog.users) and body["offset"] == 0
    assert body["user_ids"] == two_stage.catalog.users.terms[:5].tolist()
    page = client.get("/users", params={"offset": 5, "limit": 5}).json()
    assert page["user_ids"] == two_stage.catalog.users.terms[5:10].tolist()
    assert client.get("/users", params={"offset": 10_000}).json()["user_ids"] == []
    assert_error(client.get("/users", params={"limit": 0}), 422)
    assert_error(client.get("/users", params={"offset": -1}), 422)


def test_user_ratings(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/users/1/ratings", params={"limit": 3}).json()
    rated = two_stage.rated_movies("1")
    assert body["user_id"] == "1" and body["total"] == len(rated)
    assert [(r["movie_id"], r["movie_title"], r["rating"]) for r in body["ratings"]] == rated[:3]
    assert_error(client.get("/users/nobody/ratings"), 404, "unknown user_id 'nobody'")


def test_user_recommendations(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/users/1/recommendations", params={"k": 5}).json()
    assert body["user_id"] == "1" and body["k"] == 5 and body["include_seen"] is False
    recs = body["recommendations"]
    expected = two_stage.recommend("1", 5)
    assert [r["movie_id"] for r in recs] == [e.movie_id for e in expected]
    assert all(r["retrieval_score"] is not None for r in recs)  # two-stage shows both scores
    seen = {m for m, _, _ in two_stage.rated_movies("1")}
    assert not seen & {r["movie_id"] for r in recs}
    default = client.get("/users/1/recommendations").json()
    assert len(default["recommendations"]) == 10
    assert body["basis"] == "personal" and body["note"] is None
    assert body["order"] == "relevance"
    # Each names the liked training movie that brought it.
    assert [(r["because_movie_id"], r["because_title"]) for r in recs] == [
        (e.because_movie_id, e.because_title) for e in expected
    ]
    rated = two_stage.rated_movies("1")
    liked = {m for m, _, r in rated if r >= min(4, rated[0][2])}
    assert all(r["because_movie_id"] in liked for r in recs)


def test_user_recommendations_order(client: TestClient, two_stage: Recommender) -> None:
    best_match = client.get("/users/1/recommendations", params={"k": 8}).json()
    scores = [r["retrieval_score"] for r in best_match["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    body = client.get(
        "/users/1/recommendations", params={"k": 8, "order": "predicted_rating"}
    ).json()
    assert body["order"] == "predicted_rating"
    recs = body["recommendations"]
    ratings = [r["predicted_rating"] for r in recs]
    assert ratings == sorted(ratings, reverse=True)
    expected = two_stage.recommend("1", 8, order="predicted_rating")
    assert [r["movie_id"] for r in recs] == [e.movie_id for e in expected]
    assert all(r["because_title"] for r in recs)
    relevance = client.get("/users/1/recommendations", params={"k": 8, "order": "relevance"})
    assert relevance.json() == best_match
    bad = client.get("/users/1/recommendations", params={"order": "best"})
    body = assert_error(bad, 422, "query parameter order", "'relevance'", "'predicted_rating'")
    assert body["errors"][0]["loc"] == ["query", "order"]
    schema = client.get("/openapi.json").json()
    parameters = schema["paths"]["/users/{user_id}/recommendations"]["get"]["parameters"]
    order = next(p for p in parameters if p["name"] == "order")
    assert "best match first" in order["description"]
    assert order["schema"]["enum"] == ["relevance", "predicted_rating"]


def test_ordering_by_rating_needs_a_ranking_model(ratings: Ratings) -> None:
    retrieval_only = train_recommender(ratings, preset("ease"))
    with TestClient(create_app(retrieval_only)) as ease:
        response = ease.get("/users/1/recommendations", params={"order": "predicted_rating"})
        assert_error(response, 422, "no rating model", "order 'relevance'")
        response = ease.post(
            "/recommendations", json={"liked": ["11"], "order": "predicted_rating"}
        )
        assert_error(response, 422, "no rating model")
        body = ease.get("/users/1/recommendations", params={"k": 3}).json()
        assert all(
            r["predicted_rating"] is None and r["because_title"] for r in body["recommendations"]
        )


def test_a_user_without_enough_history_is_told_the_list_is_popular(
    client: TestClient, two_stage: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raise the bar above user 1's training ratings: the service must say what it serves.
    rated = len(two_stage.rated_movies("1"))
    config = dataclasses.replace(two_stage.config, min_history=rated + 1)
    monkeypatch.setattr(two_stage, "config", config)
    body = client.get("/users/1/recommendations", params={"k": 3}).json()
    assert body["basis"] == "popular"
    assert (
        body["note"] == f"user 1 has only {rated} ratings in the training data, too few "
        "for a personal list: these are the most popular movies"
    )
    assert all(r["retrieval_score"] is None for r in body["recommendations"])
    assert all(r["because_title"] is None for r in body["recommendations"])  # nobody's because


def test_recommendations_page_and_narrow(client: TestClient, two_stage: Recommender) -> None:
    first = client.get("/users/1/recommendations", params={"k": 20}).json()["recommendations"]
    page = client.get("/users/1/recommendations", params={"k": 5, "offset": 5}).json()
    assert page["offset"] == 5
    # The same movies in the same order; the predicted rating of a movie may differ in the last
    # float digit, since a page of 5 is rated in another batch shape than a list of 20.
    for got, want in zip(page["recommendations"], first[5:10], strict=True):
        assert got == want | {"predicted_rating": pytest.approx(want["predicted_rating"])}
    genre = next(g for r in first for g in r["genres"] if g != "unknown")
    narrowed = client.get(
        "/users/1/recommendations", params={"k": 5, "genre": genre, "year_from": 1900}
    ).json()["recommendations"]
    assert narrowed and all(genre in r["genres"] and r["year"] >= 1900 for r in narrowed)
    expected = two_stage.recommend("1", 5, only=ListFilter((genre,), 1900))
    assert [r["movie_id"] for r in narrowed] == [e.movie_id for e in expected]
    liked = client.post(
        "/recommendations", json={"liked": ["11"], "k": 5, "offset": 5, "genres": [genre]}
    ).json()
    assert liked["offset"] == 5 and all(genre in r["genres"] for r in liked["recommendations"])
    assert_error(
        client.get("/users/1/recommendations", params={"genre": "Cartoons"}),
        422,
        "genre",
    )
    nothing = client.post(
        "/recommendations", json={"liked": ["11"], "year_from": 2000, "year_to": 1990}
    )
    assert nothing.status_code == 200 and nothing.json()["recommendations"] == []
    assert_error(client.get("/users/1/recommendations", params={"offset": -1}), 422, "offset")
    assert "Comedy" in client.get("/health").json()["genres"]


def test_user_recommendations_can_include_seen(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/users/1/recommendations", params={"k": 20, "include_seen": True}).json()
    assert body["include_seen"] is True
    expected = two_stage.recommend("1", 20, include_seen=True)
    assert [r["movie_id"] for r in body["recommendations"]] == [e.movie_id for e in expected]


@pytest.mark.parametrize("k", [0, -3, MAX_K + 1, 10**30, "x", 1.5])
def test_user_recommendations_reject_bad_k(client: TestClient, k: Any) -> None:
    response = client.get("/users/1/recommendations", params={"k": k})
    body = assert_error(response, 422, "query parameter k")
    assert body["errors"][0]["loc"] == ["query", "k"]


def test_unknown_user_is_404_with_a_hint(client: TestClient) -> None:
    body = assert_error(client.get("/users/10000/recommendations"), 404, "unknown user_id")
    assert "10000" in body["detail"]
    assert_error(client.get("/users/" + "9" * 33 + "/recommendations"), 422)  # id too long
    assert_error(client.get("/users/1/recommendations", params={"include_seen": "perhaps"}), 422)


# -- recommendations for people not in the data --------------------------------------------------


def test_recommendations_from_liked_titles_and_ids(
    client: TestClient, two_stage: Recommender
) -> None:
    name = title_of(two_stage, "11").rsplit(" (", 1)[0].upper()  # no year, other case
    response = client.post("/recommendations", json={"liked": [name, 12, "13"], "k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [m["movie_id"] for m in body["liked"]] == ["11", "12", "13"]
    assert body["k"] == 5 and len(body["recommendations"]) == 5
    assert not {"11", "12", "13"} & {r["movie_id"] for r in body["recommendations"]}
    expected = two_stage.recommend_for_liked(["11", "12", "13"], 5)
    assert [r["movie_id"] for r in body["recommendations"]] == [e.movie_id for e in expected]
    assert body["order"] == "relevance"
    assert all(r["because_movie_id"] in {"11", "12", "13"} for r in body["recommendations"])
    assert [r["because_title"] for r in body["recommendations"]] == [
        e.because_title for e in expected
    ]
    by_rating = client.post(
        "/recommendations", json={"liked": ["11", 12, "13"], "k": 5, "order": "predicted_rating"}
    ).json()
    assert by_rating["order"] == "predicted_rating"
    ratings = [r["predicted_rating"] for r in by_rating["recommendations"]]
    assert ratings == sorted(ratings, reverse=True)
    expected = two_stage.recommend_for_liked(["11", "12", "13"], 5, order="predicted_rating")
    assert [r["movie_id"] for r in by_rating["recommendations"]] == [e.movie_id for e in expected]


def test_recommendations_default_k(client: TestClient) -> None:
    body = client.post("/recommendations", json={"liked": ["11"]}).json()
    assert body["k"] == 10 and len(body["recommendations"]) == 10


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"liked": []}, "body field liked"),
        ({"liked": [11], "ratings": [{"movie": 12, "rating": 4}]}, "send either liked movies"),
        ({"ratings": [{"movie": 12}]}, "body field ratings[0].rating"),
        ({"liked": ["11"] * (MAX_LIST + 1)}, "body field liked"),
        ({"liked": [""]}, "body field liked[0]"),
        ({"liked": ["11"], "k": 0}, "body field k"),
        ({"liked": ["11"], "k": MAX_K + 1}, "body field k"),
        ({"liked": ["11"], "extra": 1}, "body field extra"),
        ({"liked": "11"}, "body field liked"),
        ({"liked": [None]}, "body field liked[0]"),
        ({}, "send either liked movies"),
        ({"liked": ["11"], "order": "best"}, "body field order"),
    ],
)
def test_recommendations_reject_invalid_bodies(
    client: TestClient, payload: dict[str, Any], where: str
) -> None:
    assert_error(client.post("/recommendations", json=payload), 422, where)


def test_union_errors_read_as_one_message(client: TestClient) -> None:
    body = assert_error(client.post("/recommendations", json={"liked": [None]}), 422)
    assert body["errors"] == [
        {"loc": ["body", "liked", 0], "msg": "Input should be a valid string or a valid integer"}
    ]
    blank = assert_error(client.post("/recommendations", json={"liked": [" "]}), 422, "blank")
    assert "constrained" not in blank["detail"] and "pattern" not in blank["detail"]


def test_recommendations_unknown_movie_is_404(client: TestClient) -> None:
    response = client.post("/recommendations", json={"liked": ["11", "No Such Film (2099)"]})
    assert_error(response, 404, "No Such Film")
    assert_error(client.post("/recommendations", json={"liked": [99999]}), 404, "99999")


def test_ambiguous_title_is_422_with_candidates(
    client: TestClient, two_stage: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ambiguous(title_or_id: str | int) -> None:
        raise AmbiguousTitleError("hamlet", ["Hamlet (1948)", "Hamlet (1996)"])

    monkeypatch.setattr(two_stage.catalog, "movie_info", ambiguous)
    body = assert_error(client.post("/recommendations", json={"liked": ["hamlet"]}), 422, "year")
    assert body["candidates"] == ["Hamlet (1948)", "Hamlet (1996)"]


def test_recommendations_need_a_retrieval_model(ranking_only_client: TestClient) -> None:
    response = ranking_only_client.post("/recommendations", json={"liked": ["11"]})
    assert_error(response, 422, "no retrieval model")


def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert_error(
        client.post("/recommendations", content=b'{"liked": [', headers=headers), 422, "JSON"
    )
    assert_error(client.post("/recommendations", content=b"liked", headers=headers), 422)
    big = b'{"liked": ["' + b"x" * MAX_BODY_BYTES + b'"]}'
    assert_error(client.post("/recommendations", content=big, headers=headers), 413, "too large")

    def chunks() -> Any:  # no Content-Length: the cap must hold for a streamed body too
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b" " * 1000

    assert_error(client.post("/recommendations", content=chunks(), headers=headers), 413)


# -- score ---------------------------------------------------------------------------------------


def test_score_titles_and_ids_in_order(client: TestClient, two_stage: Recommender) -> None:
    title = title_of(two_stage, "11")
    response = client.post("/score", json={"user_id": "1", "movies": [12, title, "13"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == "1"
    assert [s["movie_id"] for s in body["scores"]] == ["12", "11", "13"]
    expected = two_stage.score("1", ["12", title, "13"])
    assert [s["predicted_rating"] for s in body["scores"]] == pytest.approx(
        [e.predicted_rating for e in expected]
    )
    assert all(s["retrieval_score"] is None for s in body["scores"])
    numeric_user = client.post("/score", json={"user_id": 1, "movies": ["11"]}).json()
    assert numeric_user["user_id"] == "1"


def test_score_errors(client: TestClient) -> None:
    assert_error(client.post("/score", json={"user_id": "nobody", "movies": ["11"]}), 404, "user")
    assert_error(client.post("/score", json={"user_id": "1", "movies": ["Nope (1900)"]}), 404)
    assert_error(client.post("/score", json={"user_id": "1", "movies": []}), 422, "movies")
    too_many = {"user_id": "1", "movies": ["11"] * (MAX_LIST + 1)}
    assert_error(client.post("/score", json=too_many), 422, "movies")
    assert_error(client.post("/score", json={"movies": ["11"]}), 422, "user_id")
    assert_error(client.post("/score", json={"user_id": "", "movies": ["11"]}), 422, "user_id")


# -- routing and methods -------------------------------------------------------------------------


def test_unknown_paths_and_methods_answer_json(client: TestClient) -> None:
    assert_error(client.get("/nowhere"), 404)
    assert_error(client.delete("/health"), 405)
    assert_error(client.get("/score"), 405)


def test_unexpected_errors_are_a_logged_500_without_details(two_stage: Recommender) -> None:
    class Broken(Recommender):
        def recommend(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret internals")

    broken = Broken.__new__(Broken)
    broken.__dict__.update(two_stage.__dict__)
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/users/1/recommendations")
    body = assert_error(response, 500, "internal error")
    assert "secret" not in body["detail"]


# -- start-up ------------------------------------------------------------------------------------


def test_lifespan_loads_the_artifact_once(two_stage_artifact: Path) -> None:
    app = create_app(artifact=two_stage_artifact)
    with TestClient(app) as client:
        loaded = app.state.recommender
        assert client.get("/health").json()["two_stage"] is True
        client.get("/users/1/recommendations")
        assert app.state.recommender is loaded


def test_app_from_env(two_stage_artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ARTIFACT_ENV, str(two_stage_artifact))
    with TestClient(app_from_env()) as client:
        assert client.get("/health").status_code == 200
    monkeypatch.delenv(ARTIFACT_ENV)
    with pytest.raises(RuntimeError, match=ARTIFACT_ENV):
        app_from_env()


def test_a_missing_or_corrupt_artifact_stops_start_up(tmp_path: Path) -> None:
    from reelrank.errors import ArtifactError

    with pytest.raises(ArtifactError), TestClient(create_app(artifact=tmp_path / "missing")):
        pass
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    with pytest.raises(ArtifactError), TestClient(create_app(artifact=corrupt)):
        pass


def test_create_app_needs_exactly_one_source(two_stage: Recommender, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        create_app()
    with pytest.raises(ValueError, match="exactly one"):
        create_app(two_stage, artifact=tmp_path)
