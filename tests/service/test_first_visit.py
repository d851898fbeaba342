"""What the page needs beyond the write API: movies a first visitor can rate, lists from rated
movies for a server without a store, and whether the server keeps ratings at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from reelrank.recommender.lists import varied_popular
from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.store import RatingStore

SAME = {"Origin": "http://testserver"}


@pytest.fixture
def with_store(two_stage: Recommender, tmp_path: Path) -> Iterator[TestClient]:
    with RatingStore(tmp_path / "s.sqlite3") as store:
        yield TestClient(create_app(two_stage, store=store))


def test_varied_popular_trades_popularity_for_new_genres() -> None:
    # Movies 1-3 share one genre and are the most popular; 4 is a little less popular, of
    # another genre; 5 is of a third, but too unpopular to pass a repeat (4.8 - 1 > 1.0).
    log_popularity = np.array([0.0, 5.0, 4.9, 4.8, 4.5, 1.0])
    genres = np.zeros((6, 3), dtype=bool)
    genres[1:4, 0] = True
    genres[4, 1] = True
    genres[5, 2] = True
    assert varied_popular(log_popularity, genres, 2, np.array([], np.int64)).tolist() == [1, 4]
    assert varied_popular(log_popularity, genres, 3, np.array([1])).tolist() == [2, 4, 3]
    # Without a cost for sameness it is plain popularity.
    plain = varied_popular(log_popularity, genres, 3, np.array([], np.int64), sameness_cost=0)
    assert plain.tolist() == [1, 2, 3]
    # Never more than there are, never the unknown movie 0, never an excluded one.
    everything = varied_popular(log_popularity, genres, 10, np.array([3]))
    assert sorted(everything.tolist()) == [1, 2, 4, 5]


def test_movies_to_rate_are_popular_and_varied(client: TestClient, two_stage: Recommender) -> None:
    body = client.get("/movies/to-rate", params={"k": 8}).json()
    movies = body["movies"]
    assert len(movies) == 8 and len({m["movie_id"] for m in movies}) == 8
    counts = np.bincount(two_stage.seen.movie_idx, minlength=two_stage.catalog.movies.size)
    shown = [two_stage.catalog.resolve_movie(m["movie_id"]) for m in movies]
    # Each is among the more popular half of the catalogue...
    assert all(counts[row] >= np.median(counts[1:]) for row in shown)
    # ...and together they cover more genres than the 8 most popular movies do.
    top = np.argsort(-counts[1:], kind="stable")[:8] + 1
    genres = two_stage.catalog.table.genres
    assert genres[shown].any(axis=0).sum() >= genres[top].any(axis=0).sum()
    assert client.get("/movies/to-rate", params={"k": 0}).status_code == 422


def test_a_visitor_is_not_offered_what_they_rated(
    with_store: TestClient, two_stage: Recommender
) -> None:
    client = with_store
    assert client.get("/health").json()["store"] is True
    first = [m["movie_id"] for m in client.get("/movies/to-rate").json()["movies"]]
    me = client.post("/me", headers=SAME).json()["user_id"]
    answer = client.put(f"/users/{me}/ratings/{first[0]}", json={"rating": 2}, headers=SAME)
    assert answer.status_code == 200, answer.text
    after = [m["movie_id"] for m in client.get("/movies/to-rate").json()["movies"]]
    assert first[0] not in after and after[: len(first) - 1] != []
    # Another visitor (no cookie) is still offered it.
    assert first[0] in [
        m["movie_id"] for m in TestClient(client.app).get("/movies/to-rate").json()["movies"]
    ]


def test_lists_from_ratings_leave_out_every_rated_movie_and_like_only_good_ones(
    client: TestClient, two_stage: Recommender
) -> None:
    ids = two_stage.catalog.table.movie_id
    loved, hated = str(ids[1]), str(ids[2])
    body = {"ratings": [{"movie": loved, "rating": 5}, {"movie": hated, "rating": 1}], "k": 20}
    answer = client.post("/recommendations", json=body)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert [m["movie_id"] for m in data["liked"]] == [loved]  # a low rating is not a like
    shown = {r["movie_id"] for r in data["recommendations"]}
    assert loved not in shown and hated not in shown
    assert {r["because_movie_id"] for r in data["recommendations"]} == {loved}
    # The same list as liking the loved movie alone, less the hated one.
    liked = client.post("/recommendations", json={"liked": [loved], "k": 21}).json()
    expected = [r["movie_id"] for r in liked["recommendations"] if r["movie_id"] != hated]
    assert [r["movie_id"] for r in data["recommendations"]] == expected[:20]
    off_scale = {"ratings": [{"movie": loved, "rating": 9}]}
    refused = client.post("/recommendations", json=off_scale)
    assert refused.status_code == 422 and "1..5" in refused.json()["detail"]
