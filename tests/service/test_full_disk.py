"""A full disk: a write that cannot be kept answers 503 (nothing acknowledged), the store stays
consistent, every acknowledged write is still in it, and writing resumes once there is room.

Two ways to fill it: SQLite's own size cap (`PRAGMA max_page_count`, which fails writes with the
same "database or disk is full" as a full disk; runs everywhere), and a real 1 MiB tmpfs (where
this process may mount one, e.g. as root in a container)."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from reelrank.recommender.recommender import Recommender
from reelrank.service import create_app
from reelrank.store import RatingStore

KEY = "operator-key-for-full-disk-tests-01"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _fill(client: TestClient, movies: list[str]) -> dict[str, float]:
    """PUT ratings until the store refuses one; what was acknowledged, by user."""
    acknowledged: dict[str, float] = {}
    for n in range(200_000):
        user, rating = f"user-with-a-longish-id-{n:07d}", float(1 + n % 5)
        answer = client.put(f"/users/{user}/ratings/{movies[n % len(movies)]}",
                            json={"rating": rating}, headers=AUTH)  # fmt: skip
        if answer.status_code != 200:
            assert answer.status_code == 503, answer.text
            detail = answer.json()["detail"]
            assert "full" in detail and "free" in detail and "send it again" in detail, detail
            return acknowledged
        acknowledged[user] = rating
    pytest.fail("the store never filled up")


def _check_consistent(path: Path, acknowledged: dict[str, float]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with RatingStore(path) as store:
        stored = {r.user_id: r.rating for batch in store.all_ratings() for r in batch}
    lost = [user for user, rating in acknowledged.items() if stored.get(user) != rating]
    assert not lost, f"{len(lost)} acknowledged writes lost"


def _movies(two_stage: Recommender) -> list[str]:
    return [str(m) for m in two_stage.catalog.table.movie_id[1:21]]


def test_a_store_at_its_size_cap_answers_503_and_stays_consistent(
    two_stage: Recommender, tmp_path: Path
) -> None:
    path = tmp_path / "store.sqlite3"
    pages = {"cap": 40}  # 40 pages of 4 KiB: a few hundred ratings

    with RatingStore(path) as store:
        store.engine.dispose()  # every connection from now on is capped

        @event.listens_for(store.engine, "connect")
        def _cap(connection: Any, _: Any) -> None:
            connection.execute(f"PRAGMA max_page_count={pages['cap']}")

        with TestClient(create_app(two_stage, store=store, api_key=KEY)) as client:
            acknowledged = _fill(client, _movies(two_stage))
            assert len(acknowledged) > 50
            # Reading still works while full.
            some = next(iter(acknowledged))
            assert client.get(f"/users/{some}/ratings", headers=AUTH).status_code == 200
            # Room again: writing resumes, without a restart.
            pages["cap"] = 1_000_000
            store.engine.dispose()
            answer = client.put(f"/users/after/ratings/{_movies(two_stage)[0]}",
                                json={"rating": 4}, headers=AUTH)  # fmt: skip
            assert answer.status_code == 200, answer.text
            acknowledged["after"] = 4.0
    _check_consistent(path, acknowledged)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs), or a skip where this process may not mount one."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip() or made.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_disk_answers_503_and_loses_nothing(
    two_stage: Recommender, tiny_disk: Path
) -> None:
    path = tiny_disk / "store.sqlite3"
    with (
        RatingStore(path) as store,
        TestClient(create_app(two_stage, store=store, api_key=KEY)) as client,
    ):
        acknowledged = _fill(client, _movies(two_stage))
        assert len(acknowledged) > 50
        again = client.put(f"/users/again/ratings/{_movies(two_stage)[0]}",
                           json={"rating": 4}, headers=AUTH)  # fmt: skip
        assert again.status_code == 503  # still full: still refused, never a 500
    _check_consistent(path, acknowledged)
