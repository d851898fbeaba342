"""MovieLens 100k: both parsers, their error messages, the parsed cache and the licence notice."""

from __future__ import annotations

import json
import time
import urllib.error
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from movielens_fakes import (
    AGE_BUCKET,
    MOVIES,
    RATINGS,
    USERS,
    full_title,
    grouplens_files,
    grouplens_zip_bytes,
    recbole_files,
    recbole_wheel_bytes,
    sha256,
    write_grouplens_folder,
)

from reelrank.data import movielens
from reelrank.data.movielens import (
    LICENCE_NOTICE,
    bucketize_age,
    dataset_info,
    load_movielens_100k,
    read_grouplens,
    read_recbole_wheel,
)
from reelrank.data.sources import (
    RECBOLE_SHA256,
    RECBOLE_WHEEL,
    Fetched,
    GroupLensZip,
    RecBoleWheel,
    Source,
)
from reelrank.types import GENRES, RATING_FEATURES, DataError, Ratings

WHEEL = recbole_wheel_bytes()


def assert_same(a: Ratings, b: Ratings) -> None:
    for name in RATING_FEATURES:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.shape == y.shape, name
        assert np.array_equal(x, y), name


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_grouplens_folder(tmp_path / "ml-100k")


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / RECBOLE_WHEEL
    path.write_bytes(WHEEL)
    return path


# ---------------------------------------------------------------- parsing


def test_folder_zip_and_wheel_give_identical_ratings(
    folder: Path, wheel: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(grouplens_zip_bytes())
    from_folder = read_grouplens(folder)
    assert_same(from_folder, read_grouplens(archive))
    assert_same(from_folder, read_recbole_wheel(wheel))


def test_ratings_follow_u_data_order_with_tfds_types(folder: Path) -> None:
    ratings = read_grouplens(folder)
    assert len(ratings) == len(RATINGS)
    assert ratings.user_id.tolist() == [str(u) for u, _, _, _ in RATINGS]
    assert ratings.movie_id.tolist() == [str(m) for _, m, _, _ in RATINGS]
    assert ratings.user_rating.dtype == np.float32
    assert ratings.user_rating.tolist() == [float(r) for _, _, r, _ in RATINGS]
    assert ratings.timestamp.dtype == np.int64
    assert ratings.timestamp.tolist() == [t for _, _, _, t in RATINGS]
    assert ratings.movie_title.tolist() == [full_title(m) for _, m, _, _ in RATINGS]
    assert ratings.bucketized_user_age.tolist() == [AGE_BUCKET[u] for u, _, _, _ in RATINGS]
    users = {u: (g, o, z) for u, _, g, o, z in USERS}
    assert ratings.user_gender.tolist() == [users[u][0] for u, _, _, _ in RATINGS]
    assert ratings.user_occupation_text.tolist() == [users[u][1] for u, _, _, _ in RATINGS]
    assert ratings.user_zip_code.tolist() == [users[u][2] for u, _, _, _ in RATINGS]
    genres = {m: g for m, _, _, g in MOVIES}
    assert [ratings.row(i)["movie_genres"] for i in range(len(ratings))] == [
        [g for g in GENRES if g in genres[m]] for _, m, _, _ in RATINGS
    ]


def test_awkward_titles_match_across_sources(folder: Path, wheel: Path) -> None:
    titles = set(read_recbole_wheel(wheel).movie_title.tolist())
    assert titles == set(read_grouplens(folder).movie_title.tolist())
    assert "unknown" in titles  # RecBole's "unkonwn (unkonwn)"
    assert "Misérables, Les (1995)" in titles  # Latin-1 in u.item, UTF-8 in RecBole
    assert "Two Friends (1986)" in titles  # trailing space in u.item


@pytest.mark.parametrize(
    ("age", "bucket"),
    [(1, 1), (7, 1), (17, 1), (18, 18), (24, 18), (25, 25), (34, 25), (35, 35), (44, 35),
     (45, 45), (49, 45), (50, 50), (55, 50), (56, 56), (73, 56)],
)  # fmt: skip
def test_age_buckets_are_tfds_lower_edges(age: int, bucket: int) -> None:
    assert bucketize_age(np.array([age])).tolist() == [bucket]


def replace_line(text: bytes, line: int, new: str) -> bytes:
    lines = text.decode("latin-1").split("\n")
    lines[line - 1] = new
    return "\n".join(lines).encode("latin-1")


@pytest.mark.parametrize(
    ("file", "line", "bad", "message"),
    [
        ("u.data", 3, "7\t2\t1", r"u\.data, line 3: found 3 fields; expected 4 '\\t'-separated"),
        ("u.data", 3, "7\tx2\t1\t878887116", r"u\.data, line 3: movie id is 'x2'.*whole number"),
        ("u.data", 3, "7\t2\t1.5\t878887116", r"u\.data, line 3: rating is '1\.5'"),
        ("u.data", 3, "7\t2\t6\t878887116", r"u\.data, line 3: rating 6 is out of range.*1 to 5"),
        ("u.data", 3, "7\t2\t0\t878887116", r"u\.data, line 3: rating 0 is out of range"),
        ("u.data", 3, "7\t999\t1\t878887116", r"u\.data, line 3: movie id 999 is not in u\.item"),
        ("u.data", 3, "99\t2\t1\t878887116", r"u\.data, line 3: user id 99 is not in u\.user"),
        ("u.data", 3, "", r"u\.data, line 3: found 1 fields"),
        ("u.item", 2, "2|Misérables, Les (1995)|01-Jan-1995", r"u\.item, line 2: found 3 fields"),
        ("u.item", 2, "x|T (1995)|||" + "|0" * 19, r"u\.item, line 2: movie id is 'x'"),
        ("u.item", 2, "1|T (1995)|||" + "|0" * 19, r"u\.item, line 2: movie id 1 appears again"),
        ("u.item", 2, "2|T (1995)|||" + "|2" * 19, r"u\.item, line 2: the genre flags are"),
        ("u.user", 4, "4|18|X|artist|T8H1N", r"u\.user, line 4: gender is 'X'; expected 'M' or"),
        ("u.user", 4, "4|old|F|artist|T8H1N", r"u\.user, line 4: age is 'old'"),
        ("u.user", 4, "4|18|F|artist", r"u\.user, line 4: found 4 fields"),
    ],
)
def test_malformed_grouplens_files_name_file_line_and_problem(
    tmp_path: Path, file: str, line: int, bad: str, message: str
) -> None:
    files = grouplens_files()
    files[file] = replace_line(files[file], line, bad)
    with pytest.raises(DataError, match=message):
        read_grouplens(write_grouplens_folder(tmp_path / "bad", files))


@pytest.mark.parametrize("file", ["u.data", "u.item", "u.user"])
def test_an_empty_file_is_a_data_error(tmp_path: Path, file: str) -> None:
    files = {**grouplens_files(), file: b"\n"}
    with pytest.raises(DataError, match=rf"{file}: it has no"):
        read_grouplens(write_grouplens_folder(tmp_path / "bad", files))


def test_crlf_line_ends_are_accepted(folder: Path, tmp_path: Path) -> None:
    files = {name: data.replace(b"\n", b"\r\n") for name, data in grouplens_files().items()}
    assert_same(
        read_grouplens(write_grouplens_folder(tmp_path / "crlf", files)), read_grouplens(folder)
    )


def test_missing_file_in_folder_and_zip(tmp_path: Path) -> None:
    files = grouplens_files()
    del files["u.user"]
    with pytest.raises(DataError, match=r"u\.user: cannot read it .*expected the GroupLens"):
        read_grouplens(write_grouplens_folder(tmp_path / "folder", files))
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(grouplens_zip_bytes(files))
    with pytest.raises(DataError, match=r"ml-100k\.zip: has no ml-100k/u\.user"):
        read_grouplens(archive)


@pytest.mark.parametrize(
    "content",
    [b"not a zip at all", grouplens_zip_bytes()[:-30], grouplens_zip_bytes()[:200]],
    ids=["garbage", "truncated-end", "truncated-start"],
)
def test_bad_zip_is_a_data_error(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(content)
    with pytest.raises(
        DataError, match=r"ml-100k\.zip.*(truncated or corrupt|corrupt or truncated)"
    ):
        read_grouplens(archive)


def test_corrupt_member_data_is_a_data_error(tmp_path: Path) -> None:
    good = grouplens_zip_bytes()
    start = good.index(b"ml-100k/u.data") + len("ml-100k/u.data")
    damaged = good[:start] + bytes(b ^ 0xFF for b in good[start : start + 40]) + good[start + 40 :]
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(damaged)
    with pytest.raises(DataError, match=r"ml-100k/u\.data: cannot be unpacked"):
        read_grouplens(archive)


@pytest.mark.parametrize(
    ("file", "line", "bad", "message"),
    [
        ("ml-100k.inter", 1, "user\titem\trating\ttime", r"ml-100k\.inter, line 1: the header is"),
        ("ml-100k.inter", 4, "7\t2\t9\t878887116", r"ml-100k\.inter, line 4: rating 9 is out of"),
        (
            "ml-100k.item",
            3,
            "2\tT\t1995\tDrama Noir",
            r"ml-100k\.item, line 3: unknown genre 'Noir'",
        ),
        ("ml-100k.user", 2, "1\t24\tM\ttechnician", r"ml-100k\.user, line 2: found 4 fields"),
    ],
)
def test_malformed_recbole_files_name_file_line_and_problem(
    tmp_path: Path, file: str, line: int, bad: str, message: str
) -> None:
    files = recbole_files()
    files[file] = replace_line(files[file], line, bad).decode("latin-1").encode("utf-8")
    path = tmp_path / RECBOLE_WHEEL
    path.write_bytes(recbole_wheel_bytes(files))
    with pytest.raises(DataError, match=message):
        read_recbole_wheel(path)


def test_recbole_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    files = recbole_files()
    files["ml-100k.item"] = files["ml-100k.item"].decode("utf-8").encode("latin-1")
    path = tmp_path / RECBOLE_WHEEL
    path.write_bytes(recbole_wheel_bytes(files))
    with pytest.raises(DataError, match=r"ml-100k\.item, line 3: byte 0xe9 is not valid utf-8"):
        read_recbole_wheel(path)


# ---------------------------------------------------------------- loading and the cache


def fail_download(url: str, dest: BinaryIO, timeout_s: float) -> None:
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def fake_chain(
    pip_calls: list[str] | None = None, *, wheel_sha256: str = sha256(WHEEL)
) -> list[Source]:
    """GroupLens unreachable, then a RecBole wheel "from pip" that is the fake one."""

    def fake_pip(requirement: str, dest: Path, timeout_s: float) -> None:
        if pip_calls is not None:
            pip_calls.append(requirement)
        (dest / RECBOLE_WHEEL).write_bytes(WHEEL)

    return [
        GroupLensZip(download=fail_download),
        RecBoleWheel(sha256=wheel_sha256, download=fake_pip),
    ]


def test_load_falls_back_caches_and_shows_the_licence_once(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    said: list[str] = []
    pip_calls: list[str] = []
    ratings = load_movielens_100k(
        cache_dir=cache, notify=said.append, sources=fake_chain(pip_calls)
    )
    assert_same(ratings, read_grouplens(folder))
    assert pip_calls == ["recbole==1.2.1"]
    assert said.count(LICENCE_NOTICE) == 1
    assert "Harper and Joseph A. Konstan" in LICENCE_NOTICE
    assert any("GroupLens failed: network error" in line for line in said)
    names = sorted(p.name for p in cache.iterdir())
    assert names == sorted(
        [RECBOLE_WHEEL, "ml-100k.parquet", "ml-100k.json", "ml-100k.licence-shown"]
    )
    manifest = json.loads((cache / "ml-100k.json").read_text())
    assert manifest["source"] == "PyPI (recbole 1.2.1 wheel)"
    assert manifest["raw_sha256"] == sha256(WHEEL)
    assert manifest["ratings"] == len(RATINGS) and manifest["users"] == len(USERS)

    # The second load reads the parquet: no source is asked, no notice again.
    said.clear()
    start = time.perf_counter()
    again = load_movielens_100k(cache_dir=cache, notify=said.append, sources=[])
    assert time.perf_counter() - start < 0.5
    assert_same(again, ratings)
    assert said == []

    # Without the parsed cache, the cached wheel is reparsed: no network, no notice.
    (cache / "ml-100k.parquet").unlink()
    (cache / "ml-100k.json").unlink()
    pip_calls.clear()
    reparsed = load_movielens_100k(
        cache_dir=cache, notify=said.append, sources=fake_chain(pip_calls)
    )
    assert_same(reparsed, ratings)
    assert pip_calls == [] and LICENCE_NOTICE not in said


@pytest.mark.parametrize(
    "damage",
    ["garbage-parquet", "truncated-parquet", "empty-parquet", "bad-json", "no-json", "old-version"],
)
def test_a_corrupt_parsed_cache_is_rebuilt_not_trusted(tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    pip_calls: list[str] = []
    good = load_movielens_100k(cache_dir=cache, notify=lambda _: None, sources=fake_chain())
    parquet, manifest = cache / "ml-100k.parquet", cache / "ml-100k.json"
    if damage == "garbage-parquet":
        parquet.write_bytes(b"PAR1 this is not parquet PAR1")
    elif damage == "truncated-parquet":
        parquet.write_bytes(parquet.read_bytes()[:-100])
    elif damage == "empty-parquet":
        parquet.write_bytes(b"")
    elif damage == "bad-json":
        manifest.write_text("{not json")
    elif damage == "no-json":
        manifest.unlink()
    else:
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 0}))
    said: list[str] = []
    rebuilt = load_movielens_100k(
        cache_dir=cache, notify=said.append, sources=fake_chain(pip_calls)
    )
    assert_same(rebuilt, good)
    assert pip_calls == []  # rebuilt from the verified wheel already in the cache
    assert any("unusable" in line and "rebuilding" in line for line in said)
    said.clear()
    assert_same(load_movielens_100k(cache_dir=cache, notify=said.append, sources=[]), good)
    assert said == []


def test_a_tampered_cached_wheel_is_refetched(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pip_calls: list[str] = []
    load_movielens_100k(cache_dir=cache, notify=lambda _: None, sources=fake_chain())
    (cache / "ml-100k.parquet").unlink()
    (cache / RECBOLE_WHEEL).write_bytes(WHEEL[:-10])
    load_movielens_100k(cache_dir=cache, notify=lambda _: None, sources=fake_chain(pip_calls))
    assert pip_calls == ["recbole==1.2.1"]
    assert (cache / RECBOLE_WHEEL).read_bytes() == WHEEL


def test_an_unwritable_cache_does_not_stop_a_load(
    monkeypatch: pytest.MonkeyPatch, folder: Path, tmp_path: Path
) -> None:
    def refuse(*args: object) -> None:
        raise PermissionError("[Errno 13] Permission denied")

    monkeypatch.setattr(movielens, "_write_parsed_cache", refuse)
    said: list[str] = []
    ratings = load_movielens_100k(cache_dir=tmp_path, notify=said.append, sources=fake_chain())
    assert_same(ratings, read_grouplens(folder))
    assert any("could not write the parsed cache" in line for line in said)


def test_all_sources_failing_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    chain = fake_chain(wheel_sha256=RECBOLE_SHA256)  # the fake wheel does not match the real one
    said: list[str] = []
    with pytest.raises(DataError, match=r"(?s)Tried:\n  - GroupLens .*\n  - PyPI .*sha256"):
        load_movielens_100k(cache_dir=cache, notify=said.append, sources=chain)
    assert [p.name for p in cache.rglob("*")] == []
    assert LICENCE_NOTICE not in said


def test_a_user_path_is_the_only_source(folder: Path, tmp_path: Path) -> None:
    class Forbidden:
        name = "network"

        def describe(self) -> str:
            return "nowhere"

        def cached(self, cache_dir: Path) -> Fetched | None:
            raise AssertionError("a user path must not consult other sources")

        def fetch(self, cache_dir: Path) -> Fetched:
            raise AssertionError("a user path must not consult other sources")

    cache = tmp_path / "cache"
    ratings = load_movielens_100k(folder, cache_dir=cache, sources=[Forbidden()])
    assert_same(ratings, read_grouplens(folder))
    assert not cache.exists()  # the user's copy is read in place, never copied
    with pytest.raises(DataError, match="no such file or folder"):
        load_movielens_100k(tmp_path / "missing", cache_dir=cache, sources=[Forbidden()])


def test_dataset_info(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    info = dataset_info(cache_dir=cache, sources=[])
    assert info["cached"] is False and info["source"] is None
    assert "downloaded on first use" in str(info["note"])
    assert not cache.exists() or list(cache.iterdir()) == []

    load_movielens_100k(cache_dir=cache, notify=lambda _: None, sources=fake_chain())
    info = dataset_info(cache_dir=cache)
    assert info["dataset"] == "movielens/100k-ratings"
    assert info["cached"] is True
    assert info["source"] == "PyPI (recbole 1.2.1 wheel)"
    assert (info["users"], info["movies"], info["ratings"]) == (
        len(USERS),
        len(MOVIES),
        len(RATINGS),
    )
    assert info["titles"] == len(MOVIES)
    assert info["path"] == str(cache / "ml-100k.parquet")

    from_path = dataset_info(folder, cache_dir=cache)
    assert from_path["source"] == "your path" and from_path["path"] == str(folder)
    assert from_path["ratings"] == len(RATINGS)


# ---------------------------------------------------------------- the real data set


@pytest.mark.integration
def test_real_movielens_100k_through_the_chain(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    said: list[str] = []
    start = time.perf_counter()
    ratings = load_movielens_100k(cache_dir=cache, notify=said.append)
    cold = time.perf_counter() - start
    assert len(ratings) == 100_000
    assert np.unique(ratings.user_id).size == 943
    assert np.unique(ratings.movie_id).size == 1682
    assert set(ratings.movie_title[ratings.movie_id == "267"]) == {"unknown"}
    assert ratings.row(0)["movie_title"] == "Kolya (1996)"  # the first line of u.data
    assert said.count(LICENCE_NOTICE) == 1

    start = time.perf_counter()
    cached = load_movielens_100k(cache_dir=cache, notify=said.append)
    warm = time.perf_counter() - start
    assert_same(cached, ratings)
    assert warm < 0.5, f"cached load took {warm:.2f} s (cold {cold:.2f} s)"

    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-100k"
    if shared.is_dir():
        assert_same(ratings, read_grouplens(shared))
