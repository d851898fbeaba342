"""The page visitor's anonymous profile: a signed, HttpOnly, SameSite=Strict cookie that lets its
holder write and read their own ratings only, from this server's own page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.service.profile import COOKIE
from reelrank.store import RatingStore

SAME = {"Origin": "http://testserver"}
KEY = "operator-key-for-profile-tests-0123"


@pytest.fixture
def app_store(two_stage: Recommender, tmp_path: Path) -> Iterator[tuple[object, RatingStore]]:
    with RatingStore(tmp_path / "s.sqlite3") as store:
        yield create_app(two_stage, store=store, api_key=KEY), store


def _visitor(app: object) -> tuple[TestClient, str]:
    client = TestClient(app)  # type: ignore[arg-type]
    answer = client.post("/me", headers=SAME)
    assert answer.status_code == 200, answer.text
    return client, answer.json()["user_id"]


def test_a_profile_is_a_signed_httponly_strict_cookie(
    app_store: tuple[object, RatingStore],
) -> None:
    app, _ = app_store
    client = TestClient(app)  # type: ignore[arg-type]
    assert client.get("/me").status_code == 404
    assert client.post("/me").status_code == 403  # no Origin: not from this server's page
    assert client.post("/me", headers={"Origin": "https://evil.example"}).status_code == 403
    answer = client.post("/me", headers=SAME)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=web-") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Max-Age=" in cookie
    user = answer.json()["user_id"]
    assert client.get("/me").json() == {"user_id": user}
    assert client.post("/me", headers=SAME).json() == {"user_id": user}  # kept, not renewed


def test_a_visitor_writes_and_reads_only_their_own_ratings(
    two_stage: Recommender, app_store: tuple[object, RatingStore]
) -> None:
    app, store = app_store
    alice, alice_id = _visitor(app)
    bob, bob_id = _visitor(app)
    movie = str(two_stage.catalog.table.movie_id[1])
    mine = f"/users/{alice_id}/ratings/{movie}"
    assert alice.put(mine, json={"rating": 5}, headers=SAME).status_code == 200
    theirs = alice.put(f"/users/{bob_id}/ratings/{movie}", json={"rating": 1}, headers=SAME)
    assert theirs.status_code == 403 and "only their own" in theirs.json()["detail"]
    data_user = str(two_stage.catalog.users.terms[0])
    assert alice.put(f"/users/{data_user}/ratings/{movie}", json={"rating": 1}).status_code == 403
    cross = alice.put(mine, json={"rating": 1}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and "cross-site" in cross.json()["detail"]
    assert alice.put(mine, json={"rating": 1}).status_code == 403  # no Origin either
    assert store.ratings_of(alice_id)[0].rating == 5 and store.ratings_of(bob_id) == []
    own = alice.get(f"/users/{alice_id}/ratings").json()["ratings"]
    assert [(r["movie_id"], r["source"]) for r in own] == [(movie, "store")]
    assert bob.get(f"/users/{alice_id}/ratings").status_code == 404  # private to others
    recs = alice.get(f"/users/{alice_id}/recommendations", params={"k": 5}).json()
    assert {r["because_movie_id"] for r in recs["recommendations"]} == {movie}
    assert bob.get(f"/users/{alice_id}/recommendations").status_code == 404
    assert alice.delete(mine, headers=SAME).status_code == 204


def test_a_forged_or_altered_cookie_is_no_profile(
    two_stage: Recommender, app_store: tuple[object, RatingStore]
) -> None:
    app, store = app_store
    client, user = _visitor(app)
    movie = str(two_stage.catalog.table.movie_id[1])
    signed = client.cookies[COOKIE]
    forged = {
        "other id": signed.replace(user, "web-someoneelse0000000"),
        "bad signature": signed[:-3] + "AAA",
        "unsigned": user,
    }
    for value in forged.values():
        client.cookies.set(COOKIE, value)
        assert client.get("/me").status_code == 404
        answer = client.put(f"/users/{user}/ratings/{movie}", json={"rating": 4}, headers=SAME)
        assert answer.status_code == 401
    assert store.info()["ratings"] == 0
