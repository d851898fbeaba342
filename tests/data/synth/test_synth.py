"""Synthetic MovieLens data in GroupLens' ml-25m layout (`reelrank.data.synth.writer`)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TypedDict

import numpy as np
import pytest

from reelrank.data.synth import writer as synth
from reelrank.data.synth.writer import GENRE_COUNTS, NO_GENRES, SynthSummary, synthesize
from reelrank.errors import ReelrankError


class Shape(TypedDict):
    n_ratings: int
    n_users: int
    n_movies: int


SMALL = Shape(n_ratings=20_000, n_users=500, n_movies=300)  # mostly Gumbel top-k users
WIDE = Shape(n_ratings=20_000, n_users=500, n_movies=2_000)  # mostly rejection sampling
STARS = {f"{code / 2:.1f}" for code in range(1, 11)}
GENRES = {name for name, _ in GENRE_COUNTS}
TITLE = re.compile(r"^.+ \((\d{4})\)$")


def _ratings(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Header, `[n, 3]` int (user, movie, timestamp) and the rating strings of `ratings.csv`."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    table = np.array([(int(r[0]), int(r[1]), int(r[3])) for r in rows[1:]], dtype=np.int64)
    return rows[0], table, [r[2] for r in rows[1:]]


def _movies(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module", params=[SMALL, WIDE], ids=["300-movies", "2000-movies"])
def made(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Shape, SynthSummary]:
    shape: Shape = request.param
    out = tmp_path_factory.mktemp("synth") / "ml-synth"
    return shape, synthesize(out, seed=7, **shape)


def test_ratings_csv_has_the_ml25m_format_and_exact_counts(
    made: tuple[Shape, SynthSummary],
) -> None:
    shape, summary = made
    raw = summary.ratings_path.read_bytes()
    assert b"\r" not in raw and b'"' not in raw and raw.endswith(b"\n")
    header, table, ratings = _ratings(summary.ratings_path)
    assert header == ["userId", "movieId", "rating", "timestamp"]
    assert table.shape[0] == shape["n_ratings"] == summary.n_ratings
    assert set(ratings) <= STARS
    users, movies, stamps = table.T
    assert set(users.tolist()) == set(range(1, shape["n_users"] + 1))  # everyone rates
    assert movies.min() >= 1 and movies.max() <= shape["n_movies"]
    assert summary.n_rated_movies == np.unique(movies).size
    assert np.unique(users * (shape["n_movies"] + 1) + movies).size == users.size  # no repeats
    order = np.lexsort((stamps, users))
    assert np.array_equal(order, np.arange(users.size))  # sorted by userId, then timestamp
    assert stamps.min() >= 789_652_009 and stamps.max() <= 1_574_327_703
    # A floor of ratings per user, scaled from ml-25m's 20 of ~154 to this data's 40 a user.
    assert np.bincount(users)[1:].min() >= 5


def test_movies_csv_has_unique_titles_genres_and_quotes_only_commas(
    made: tuple[Shape, SynthSummary],
) -> None:
    shape, summary = made
    rows = _movies(summary.movies_path)
    assert rows[0] == ["movieId", "title", "genres"]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, shape["n_movies"] + 1))
    titles = [r[1] for r in rows[1:]]
    assert len(set(titles)) == len(titles)
    years = [TITLE.match(t) for t in titles]
    assert all(year is not None and 1900 <= int(year[1]) <= 2019 for year in years)
    for r in rows[1:]:
        assert r[2] == NO_GENRES or set(r[2].split("|")) <= GENRES
    lines = summary.movies_path.read_text(encoding="utf-8").splitlines()[1:]
    for (movie_id, title, genres), line in zip(rows[1:], lines, strict=True):
        quoted = any(c in title for c in ',"')
        shown = '"' + title.replace('"', '""') + '"' if quoted else title
        assert line == f"{movie_id},{shown},{genres}"
    assert any("," in t for t in titles)


def test_readme_says_synthetic_parameters_and_licence(
    made: tuple[Shape, SynthSummary],
) -> None:
    shape, summary = made
    text = summary.readme_path.read_text(encoding="utf-8")
    assert "NOT MovieLens data" in text and "reelrank" in text
    assert f"ratings={shape['n_ratings']} users={shape['n_users']}" in text and "seed=7" in text
    assert "Licence" in text and "None needed" in text
    assert sorted(p.name for p in summary.out_dir.iterdir()) == [
        "README.txt",
        "movies.csv",
        "ratings.csv",
    ]


def test_popularity_and_activity_are_long_tailed(
    made: tuple[Shape, SynthSummary],
) -> None:
    shape, summary = made
    _, table, _ = _ratings(summary.ratings_path)
    per_movie = np.sort(np.bincount(table[:, 1], minlength=shape["n_movies"] + 1)[1:])[::-1]
    assert per_movie[: shape["n_movies"] // 10].sum() > 0.35 * shape["n_ratings"]
    per_user = np.bincount(table[:, 0])[1:]
    assert per_user.max() > 4 * np.median(per_user)


def test_ratings_carry_user_and_movie_structure(
    made: tuple[Shape, SynthSummary],
) -> None:
    _, summary = made
    _, table, ratings = _ratings(summary.ratings_path)
    users, movies = table[:, 0], table[:, 1]
    y = np.array(ratings, dtype=np.float64)
    test = np.random.default_rng(0).random(y.size) < 0.2
    train = ~test
    mean = y[train].mean()

    def offsets(ids: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """Per-id mean residual on train rows, shrunk toward 0 (5 pseudo-ratings)."""
        size = ids.max() + 1
        total = np.bincount(ids[train], weights=residual[train], minlength=size)
        return total / (np.bincount(ids[train], minlength=size) + 5.0)

    movie_only = offsets(movies, y - mean)
    movie_bias = movie_only
    for _ in range(5):  # alternate the two bias vectors
        user_bias = offsets(users, y - mean - movie_bias[movies])
        movie_bias = offsets(movies, y - mean - user_bias[users])

    def rmse(prediction: np.ndarray) -> float:
        return float(np.sqrt(np.mean((y[test] - prediction[test]) ** 2)))

    global_error = rmse(np.full(y.size, mean))
    movie_error = rmse(mean + movie_only[movies])
    both_error = rmse(mean + user_bias[users] + movie_bias[movies])
    assert movie_error < 0.97 * global_error
    assert both_error < 0.98 * movie_error


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    shape = Shape(n_ratings=3_000, n_users=100, n_movies=400)
    first = synthesize(tmp_path / "a", seed=3, **shape)
    again = synthesize(tmp_path / "b", seed=3, **shape)
    other = synthesize(tmp_path / "c", seed=4, **shape)
    for name in ("ratings.csv", "movies.csv", "README.txt"):
        assert (first.out_dir / name).read_bytes() == (again.out_dir / name).read_bytes()
    assert first.ratings_path.read_bytes() != other.ratings_path.read_bytes()
    assert first.movies_path.read_bytes() != other.movies_path.read_bytes()


@pytest.mark.parametrize(
    ("n_ratings", "n_users", "n_movies"),
    [(40, 40, 3), (60, 12, 10), (7, 2, 7)],
    ids=["one-each", "half-of-all-pairs", "one-user-takes-all-but-some"],
)
def test_extreme_densities_stay_exact(
    tmp_path: Path, n_ratings: int, n_users: int, n_movies: int
) -> None:
    summary = synthesize(
        tmp_path / "out", n_ratings=n_ratings, n_users=n_users, n_movies=n_movies, seed=1
    )
    _, table, _ = _ratings(summary.ratings_path)
    assert table.shape[0] == n_ratings
    assert set(table[:, 0].tolist()) == set(range(1, n_users + 1))
    assert np.unique(table[:, 0] * (n_movies + 1) + table[:, 1]).size == n_ratings


def test_notify_reports_start_and_end(tmp_path: Path) -> None:
    lines: list[str] = []
    synthesize(tmp_path / "out", n_ratings=500, n_users=50, n_movies=40, notify=lines.append)
    assert "500 synthetic ratings" in lines[0] and "wrote" in lines[-1]


def test_refuses_a_non_empty_folder_or_a_file_and_fills_an_empty_one(tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ReelrankError, match=r"not empty: pick another --out, or remove it"):
        synthesize(busy, n_ratings=500, n_users=50, n_movies=40)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ReelrankError, match="is a file"):
        synthesize(file, n_ratings=500, n_users=50, n_movies=40)
    empty = tmp_path / "empty"
    empty.mkdir()
    synthesize(empty, n_ratings=500, n_users=50, n_movies=40)
    assert (empty / "ratings.csv").is_file()


def test_a_failed_run_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_chunk = synth._chunk
    calls = []

    def failing_chunk(*args: object) -> object:
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_chunk(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(synth, "_CHUNK_RATINGS", 1_000)
    monkeypatch.setattr(synth, "_chunk", failing_chunk)
    with pytest.raises(KeyboardInterrupt):
        synthesize(tmp_path / "out", n_ratings=5_000, n_users=100, n_movies=200)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_ratings": 99, "n_users": 100}, "at least as many ratings as users"),
        ({"n_ratings": 5_001, "n_users": 100, "n_movies": 100}, "more than half"),
        ({"n_ratings": 0}, "positive"),
        ({"n_users": -1}, "positive"),
        ({"n_movies": 0}, "positive"),
        ({"seed": -1}, "zero or more"),
        ({"n_ratings": 10.5}, "whole number"),
        ({"n_users": True}, "whole number"),
    ],
)
def test_bad_arguments_are_clear_errors(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"n_ratings": 1_000, "n_users": 100, "n_movies": 100, **kwargs}
    with pytest.raises(ReelrankError, match=message):
        synthesize(tmp_path / "out", **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()
