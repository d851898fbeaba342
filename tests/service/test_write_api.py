"""The write API against a real SQLite store: the operator's key is needed, what is acknowledged
is stored, and the next request's list is computed from the whole history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.service.schemas import MAX_IMPORT
from reelrank.store import RatingStore

KEY = "operator-key-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RatingStore]:
    with RatingStore(tmp_path / "store.sqlite3") as opened:
        yield opened


@pytest.fixture
def writer(two_stage: Recommender, store: RatingStore) -> Iterator[TestClient]:
    with TestClient(create_app(two_stage, store=store, api_key=KEY)) as client:
        yield client


def _movies(two_stage: Recommender, n: int) -> list[str]:
    return [str(m) for m in two_stage.catalog.table.movie_id[1 : n + 1]]


def test_writing_needs_the_operators_key(
    two_stage: Recommender, writer: TestClient, store: RatingStore
) -> None:
    movie = _movies(two_stage, 1)[0]
    path = f"/users/ann/ratings/{movie}"
    for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY}):
        answer = writer.put(path, json={"rating": 4}, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
    assert writer.delete(path).status_code == 401
    assert writer.post("/ratings", json={"ratings": []}).status_code == 401
    with TestClient(create_app(two_stage, store=store)) as keyless:
        answer = keyless.put(path, json={"rating": 4}, headers=AUTH)
        assert answer.status_code == 403 and "--api-key-file" in answer.json()["detail"]
    with TestClient(create_app(two_stage, api_key=KEY)) as storeless:
        answer = storeless.put(path, json={"rating": 4}, headers=AUTH)
        assert answer.status_code == 503 and "--store" in answer.json()["detail"]
    assert store.info()["ratings"] == 0


def test_a_put_is_stored_once_and_read_back_with_the_key_only(
    two_stage: Recommender, writer: TestClient, store: RatingStore
) -> None:
    movie = _movies(two_stage, 1)[0]
    user = str(two_stage.catalog.users.terms[0])  # a user of the data set
    for _ in range(2):  # the same PUT twice is one rating
        answer = writer.put(
            f"/users/{user}/ratings/{movie}", json={"rating": 4.5, "timestamp": 891234567}
        )
        assert answer.status_code == 401  # no key sent
        answer = writer.put(
            f"/users/{user}/ratings/{movie}",
            json={"rating": 4.5, "timestamp": 891234567},
            headers=AUTH,
        )
        assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "user_id": user,
        "movie_id": movie,
        "movie_title": two_stage.catalog.id_to_title[movie],
        "rating": 4.5,
        "timestamp": 891234567,
        "source": "store",
    }
    assert store.ratings_of(user)[0].rating == 4.5 and store.info()["ratings"] == 1
    public = writer.get(f"/users/{user}/ratings", params={"limit": 1000}).json()
    private = writer.get(f"/users/{user}/ratings", params={"limit": 1000}, headers=AUTH).json()
    assert {r["source"] for r in public["ratings"]} == {"dataset"}
    stored = [r for r in private["ratings"] if r["source"] == "store"]
    assert stored == [
        {
            "movie_id": movie,
            "movie_title": two_stage.catalog.id_to_title[movie],
            "rating": 4.5,
            "source": "store",
        }
    ]
    assert private["total"] == len({r["movie_id"] for r in public["ratings"]} | {movie})


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"rating": 9}, 422, "must lie in 1..5"),
        ({"rating": 0}, 422, "must lie in 1..5"),
        ({"rating": "four"}, 422, "rating"),
        ({"rating": 4, "timestamp": -1}, 422, "timestamp"),
        ({"rating": 4, "extra": 1}, 422, "extra"),
        ({}, 422, "rating"),
    ],
)
def test_bad_ratings_are_refused(
    two_stage: Recommender,
    writer: TestClient,
    store: RatingStore,
    body: dict,
    status: int,
    says: str,
) -> None:
    movie = _movies(two_stage, 1)[0]
    answer = writer.put(f"/users/ann/ratings/{movie}", json=body, headers=AUTH)
    assert answer.status_code == status and says in answer.text
    assert store.info()["ratings"] == 0


@pytest.mark.parametrize(
    ("user", "movie", "status"),
    [
        ("ann", "999999", 404),  # an unknown movie
        ("x" * 33, "1", 422),  # too long
        ("a%01b", "1", 422),  # a control character
        ("a%C2%85b", "1", 422),  # a C1 control character
    ],
)
def test_hostile_ids_are_refused_never_a_500(
    writer: TestClient, store: RatingStore, user: str, movie: str, status: int
) -> None:
    answer = writer.put(f"/users/{user}/ratings/{movie}", json={"rating": 3}, headers=AUTH)
    assert answer.status_code == status, answer.text
    assert store.info()["ratings"] == 0


def test_sql_in_a_user_id_is_only_an_id(
    two_stage: Recommender, writer: TestClient, store: RatingStore
) -> None:
    movie = _movies(two_stage, 1)[0]
    user = "x'); DROP TABLE ratings; --"
    answer = writer.put(f"/users/{user}/ratings/{movie}", json={"rating": 3}, headers=AUTH)
    assert answer.status_code == 200
    assert store.ratings_of(user)[0].movie_id == movie and store.info()["ratings"] == 1


def test_delete_removes_a_stored_rating(
    two_stage: Recommender, writer: TestClient, store: RatingStore
) -> None:
    movie = _movies(two_stage, 1)[0]
    writer.put(f"/users/ann/ratings/{movie}", json={"rating": 3}, headers=AUTH)
    assert writer.delete(f"/users/ann/ratings/{movie}", headers=AUTH).status_code == 204
    again = writer.delete(f"/users/ann/ratings/{movie}", headers=AUTH)
    assert again.status_code == 404 and "no stored rating" in again.json()["detail"]
    assert store.ratings_of("ann") == []


def test_an_import_is_all_or_none_and_bounded(
    two_stage: Recommender, writer: TestClient, store: RatingStore
) -> None:
    a, b, c = _movies(two_stage, 3)
    rows = [
        {"user_id": "ann", "movie_id": a, "rating": 5, "timestamp": 10},
        {"user_id": "ann", "movie_id": b, "rating": 2},
        {"user_id": "bob", "movie_id": c, "rating": 4, "timestamp": 20},
    ]
    answer = writer.post("/ratings", json={"ratings": rows}, headers=AUTH)
    assert answer.status_code == 200 and answer.json() == {"imported": 3}
    assert store.info()["ratings"] == 3
    bad = [{"user_id": "cy", "movie_id": a, "rating": 4}, {"user_id": "cy", "movie_id": "0x"}]
    assert writer.post("/ratings", json={"ratings": bad}, headers=AUTH).status_code == 422
    unknown = [{"user_id": "cy", "movie_id": a, "rating": 4}]
    unknown.append({"user_id": "cy", "movie_id": "999999", "rating": 4})
    assert writer.post("/ratings", json={"ratings": unknown}, headers=AUTH).status_code == 404
    many = [{"user_id": "d", "movie_id": a, "rating": 3}] * (MAX_IMPORT + 1)
    too_many = writer.post("/ratings", json={"ratings": many}, headers=AUTH)
    assert too_many.status_code == 413 and "at most" in too_many.json()["detail"]
    huge = writer.post("/ratings", content=b'{"ratings": [' + b" " * 300_000 + b"]}", headers=AUTH)
    assert huge.status_code == 413
    assert store.info()["ratings"] == 3 and store.ratings_of("cy") == []


def test_the_next_request_sees_a_write(
    two_stage: Recommender, writer: TestClient, store: RatingStore
) -> None:
    user = str(two_stage.catalog.users.terms[0])
    path = f"/users/{user}/recommendations"
    today = writer.get(path, params={"k": 10}).json()
    with_key = writer.get(path, params={"k": 10}, headers=AUTH).json()
    assert with_key == today  # no stored ratings: exactly today's list
    top = today["recommendations"][0]["movie_id"]
    assert writer.put(f"/users/{user}/ratings/{top}", json={"rating": 5}, headers=AUTH).is_success
    after = writer.get(path, params={"k": 10}, headers=AUTH).json()
    assert top not in [r["movie_id"] for r in after["recommendations"]]  # rated: left out
    assert after["basis"] == "personal" and after["recommendations"] != today["recommendations"]
    assert writer.get(path, params={"k": 10}).json() == today  # without the key: as before


def test_a_new_user_gets_a_list_from_their_stored_likes(
    two_stage: Recommender, writer: TestClient
) -> None:
    liked, disliked = _movies(two_stage, 2)
    path = "/users/newcomer/recommendations"
    assert writer.get(path, headers=AUTH).status_code == 404  # nothing stored yet
    writer.put(f"/users/newcomer/ratings/{disliked}", json={"rating": 1}, headers=AUTH)
    only_dislikes = writer.get(path, params={"k": 5}, headers=AUTH).json()["recommendations"]
    assert all(r["because_movie_id"] is None for r in only_dislikes)  # popular, unexplained
    assert disliked not in [r["movie_id"] for r in only_dislikes]
    writer.put(f"/users/newcomer/ratings/{liked}", json={"rating": 5}, headers=AUTH)
    recs = writer.get(path, params={"k": 5}, headers=AUTH).json()["recommendations"]
    assert {r["because_movie_id"] for r in recs} == {liked}  # only the like explains
    assert {liked, disliked}.isdisjoint(r["movie_id"] for r in recs)
    ratings = writer.get("/users/newcomer/ratings", headers=AUTH).json()
    assert {r["movie_id"]: r["source"] for r in ratings["ratings"]} == {
        liked: "store",
        disliked: "store",
    }
    assert writer.get("/users/newcomer/ratings").status_code == 404  # private without the key


def test_a_rating_only_model_leaves_stored_movies_out_of_its_list(
    recommender: Recommender, tmp_path: Path
) -> None:
    """Without a retrieval stage nothing can fold a history in: the list keeps rating for the
    known user (or a typical one), with the movies they rated left out."""
    user = str(recommender.catalog.users.terms[0])
    with (
        RatingStore(tmp_path / "s.sqlite3") as store,
        TestClient(create_app(recommender, store=store, api_key=KEY)) as client,
    ):
        path = f"/users/{user}/recommendations"
        top = client.get(path, params={"k": 5}).json()["recommendations"][0]["movie_id"]
        client.put(f"/users/{user}/ratings/{top}", json={"rating": 2}, headers=AUTH)
        after = client.get(path, params={"k": 5}, headers=AUTH)
        assert after.status_code == 200
        assert top not in [r["movie_id"] for r in after.json()["recommendations"]]
        client.put(f"/users/stranger/ratings/{top}", json={"rating": 5}, headers=AUTH)
        stranger = client.get("/users/stranger/recommendations", params={"k": 5}, headers=AUTH)
        assert stranger.status_code == 200 and len(stranger.json()["recommendations"]) == 5
