"""The catalogue at run time, over HTTP: the operator adds, edits and takes down movies; an added
movie is served at once everywhere (search, page, similar, filters, lists, ratings), survives a
restart, and reaches another worker on the same store; the refusals say why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.store import RatingStore

KEY = "operator-key-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
NEW = {"title": "Brand New Film", "genres": ["Comedy", "Drama"], "year": 2026}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RatingStore]:
    with RatingStore(tmp_path / "store.sqlite3") as opened:
        yield opened


@pytest.fixture
def client(two_stage: Recommender, store: RatingStore) -> Iterator[TestClient]:
    with TestClient(create_app(two_stage, store=store, api_key=KEY)) as test_client:
        yield test_client


def add(client: TestClient, **fields: object) -> dict:
    answer = client.post("/movies", json={**NEW, **fields}, headers=AUTH)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_an_added_movie_is_served_everywhere_at_once(
    two_stage: Recommender, client: TestClient, store: RatingStore
) -> None:
    movie = add(client, overview="Two friends open a cinema.")
    movie_id = movie["movie_id"]
    assert movie_id == str(two_stage.catalog.next_movie_id())
    assert movie["movie_title"] == "Brand New Film (2026)" and movie["added_at"] > 0
    assert movie["overview"] == "Two friends open a cinema." and not movie["hidden"]
    assert client.get(f"/movies/{movie_id}").json()["movie_title"] == "Brand New Film (2026)"
    found = client.get("/movies", params={"query": "brand new"}).json()["movies"]
    assert found[0]["movie_id"] == movie_id
    assert client.get("/movies/new").json()["movies"][0]["movie_id"] == movie_id
    similar = client.get(f"/movies/{movie_id}/similar", params={"k": 3}).json()["similar"]
    assert len(similar) == 3
    listed = client.get("/users/1/recommendations", params={"year_from": 2026}).json()
    assert [r["movie_id"] for r in listed["recommendations"]] == [movie_id]
    liked = client.post("/recommendations", json={"liked": [movie_id], "k": 3}).json()
    assert len(liked["recommendations"]) == 3
    # People rate it like any movie; its ratings are kept beside the others.
    rated = client.put(f"/users/ann/ratings/{movie_id}", json={"rating": 5}, headers=AUTH)
    assert rated.status_code == 200, rated.text
    assert store.ratings_of_movies([movie_id])[0].rating == 5.0
    assert store.movies.get(movie_id) is not None


def test_adding_needs_the_key_and_a_good_movie(
    two_stage: Recommender, client: TestClient, store: RatingStore
) -> None:
    assert client.post("/movies", json=NEW).status_code == 401
    assert (
        client.post("/movies", json=NEW, headers={"Authorization": "Bearer no"}).status_code == 401
    )
    for bad, words in [
        ({"genres": ["Space Opera"]}, "genres"),
        ({"genres": []}, "genres"),
        ({"title": ""}, "title"),
        ({"year": 1500}, "year"),
        ({"title": "bad\u0000title"}, "title"),
    ]:
        answer = client.post("/movies", json={**NEW, **bad}, headers=AUTH)
        assert answer.status_code == 422 and words in answer.text, answer.text
    taken = two_stage.catalog.movie_title(1)
    answer = client.post("/movies", json={**NEW, "title": taken, "year": None}, headers=AUTH)
    assert answer.status_code == 409 and "already" in answer.json()["detail"]
    add(client)
    again = client.post("/movies", json={**NEW, "title": "brand new FILM"}, headers=AUTH)
    assert again.status_code == 409, again.text
    assert store.info()["movies_added"] == 1
    with TestClient(create_app(two_stage, api_key=KEY)) as storeless:
        assert storeless.post("/movies", json=NEW, headers=AUTH).status_code == 503


def test_edits_and_takedowns_are_served_at_once(two_stage: Recommender, client: TestClient) -> None:
    movie_id = add(client)["movie_id"]
    edited = client.patch(
        f"/movies/{movie_id}", json={"title": "Better Name", "genres": ["Horror"]}, headers=AUTH
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["movie_title"], edited.json()["genres"]) == (
        "Better Name (2026)",
        ["Horror"],
    )
    assert client.get("/movies", params={"query": "better name"}).json()["movies"]
    assert client.patch(f"/movies/{movie_id}", json={"year": 2026}).status_code == 401
    clash = client.patch(
        f"/movies/{movie_id}", json={"title": two_stage.catalog.movie_title(1)}, headers=AUTH
    )
    assert clash.status_code == 409, clash.text  # another movie has that title
    # A takedown of a trained movie: gone from lists, search and its page.
    old = two_stage.catalog.movie_id(1)
    old_title = two_stage.catalog.movie_title(1)
    assert client.delete(f"/movies/{old}").status_code == 401
    assert client.delete(f"/movies/{old}", headers=AUTH).status_code == 204
    gone = client.get(f"/movies/{old}")
    assert gone.status_code == 404 and "taken down" in gone.json()["detail"]
    assert client.get(f"/movies/{old}/similar").status_code == 404
    assert (
        client.put(f"/users/ann/ratings/{old}", json={"rating": 3}, headers=AUTH).status_code == 404
    )
    found = client.get("/movies", params={"query": old_title}).json()["movies"]
    assert old not in {m["movie_id"] for m in found}
    for user in ("1", "2", "3"):
        listed = client.get(f"/users/{user}/recommendations", params={"k": 50}).json()
        assert old not in {r["movie_id"] for r in listed["recommendations"]}
    # And back.
    back = client.patch(f"/movies/{old}", json={"hidden": False}, headers=AUTH)
    assert back.status_code == 200 and client.get(f"/movies/{old}").status_code == 200
    assert client.delete("/movies/no-such-movie", headers=AUTH).status_code == 404


def test_added_movies_survive_a_restart_and_reach_other_workers(
    two_stage: Recommender, store: RatingStore, tmp_path: Path
) -> None:
    location = tmp_path / "store.sqlite3"
    with (
        RatingStore(location) as second_store,
        TestClient(create_app(two_stage, store=second_store, api_key=KEY)) as other,
    ):
        with TestClient(create_app(two_stage, store=store, api_key=KEY)) as first:
            movie_id = add(first)["movie_id"]
        deadline = time.monotonic() + 10  # the other worker polls the store every second
        while other.get(f"/movies/{movie_id}").status_code != 200:
            assert time.monotonic() < deadline, "the other worker never served the new movie"
            time.sleep(0.2)
    with (
        RatingStore(location) as reopened,
        TestClient(create_app(two_stage, store=reopened, api_key=KEY)) as restarted,
    ):
        assert restarted.get(f"/movies/{movie_id}").json()["movie_title"] == "Brand New Film (2026)"
