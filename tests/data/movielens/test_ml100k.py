"""MovieLens 100k loading: the source chain, the parsed cache, a user's path and the licence.

The real data set is used twice: through the source chain (marked `integration`: it downloads),
and, only when `REELRANK_ML100K_DIR` names an unzipped official `ml-100k` folder, from that folder,
which must pass the pinned sha256 check and give the same table as the chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

from reelrank.data.fetch.sources import (
    GROUPLENS_FILE_SHA256,
    GROUPLENS_SHA256,
    RECBOLE_SHA256,
    RECBOLE_WHEEL,
    Fetched,
    GroupLensZip,
    RecBoleWheel,
    Source,
)
from reelrank.data.movielens.ml100k import load as movielens
from reelrank.data.movielens.ml100k.grouplens_files import read_grouplens
from reelrank.data.movielens.ml100k.load import LICENCE_NOTICE, dataset_info, load_movielens_100k
from reelrank.data.movielens.ml100k.user_path import UserPath
from reelrank.errors import DataError
from reelrank.testing.ml100k_fakes import (
    MOVIES,
    RATINGS,
    USERS,
    assert_same,
    fake_digests,
    recbole_wheel_bytes,
    sha256,
    write_grouplens_folder,
)
from reelrank.types import Ratings

WHEEL = recbole_wheel_bytes()
ML100K_DIR_ENV = "REELRANK_ML100K_DIR"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_grouplens_folder(tmp_path / "ml-100k")


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


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make `load_movielens_100k` record each raw file it parses (it still parses them)."""
    calls: list[str] = []
    for name in ("read_grouplens", "read_recbole_wheel"):
        parse = getattr(movielens, name)

        def counted(path: Path, parse: Callable[..., Ratings] = parse, **options: Any) -> Ratings:
            calls.append(Path(path).name)
            return parse(path, **options)

        monkeypatch.setattr(movielens, name, counted)
    return calls


def test_load_falls_back_caches_and_shows_the_licence_once(
    monkeypatch: pytest.MonkeyPatch, folder: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    said: list[str] = []
    pip_calls: list[str] = []
    parses = count_parses(monkeypatch)
    ratings = load_movielens_100k(
        cache_dir=cache, notify=said.append, sources=fake_chain(pip_calls)
    )
    assert_same(ratings, read_grouplens(folder))
    assert pip_calls == ["recbole==1.2.1"] and parses == [RECBOLE_WHEEL]
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

    # The second load reads the parquet: no source is asked, nothing is parsed, no notice again.
    said.clear()
    parses.clear()
    again = load_movielens_100k(cache_dir=cache, notify=said.append, sources=[])
    assert_same(again, ratings)
    assert said == [] and parses == []

    # Without the parsed cache, the cached wheel is reparsed: no network, no notice.
    (cache / "ml-100k.parquet").unlink()
    (cache / "ml-100k.json").unlink()
    pip_calls.clear()
    reparsed = load_movielens_100k(
        cache_dir=cache, notify=said.append, sources=fake_chain(pip_calls)
    )
    assert_same(reparsed, ratings)
    assert pip_calls == [] and LICENCE_NOTICE not in said
    assert parses == [RECBOLE_WHEEL]


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

    monkeypatch.setattr(movielens, "write_parsed_cache", refuse)
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
    digests = fake_digests()
    ratings = load_movielens_100k(folder, cache_dir=cache, sources=[Forbidden()], digests=digests)
    assert_same(ratings, read_grouplens(folder))
    assert not cache.exists()  # the user's copy is read in place, never copied
    with pytest.raises(DataError, match="no such file or folder"):
        load_movielens_100k(
            tmp_path / "missing", cache_dir=cache, sources=[Forbidden()], digests=digests
        )


def test_a_user_path_is_checked_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch, folder: Path, tmp_path: Path
) -> None:
    parses = count_parses(monkeypatch)
    with pytest.raises(DataError, match=r"u\.data: its sha256 is [0-9a-f]{64}, expected 06416e59"):
        load_movielens_100k(folder, cache_dir=tmp_path / "cache")  # the fakes are not official
    with pytest.raises(DataError, match=r"u\.data: its sha256 is"):
        dataset_info(folder, cache_dir=tmp_path / "cache")
    assert parses == []
    assert len(load_movielens_100k(folder, digests=None)) == len(RATINGS)


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

    from_path = dataset_info(folder, cache_dir=cache, digests=fake_digests())
    assert from_path["source"] == "your path" and from_path["path"] == str(folder)
    assert from_path["ratings"] == len(RATINGS)


def test_a_read_only_cache_with_a_corrupt_parquet_still_gives_its_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`train` coped, but `data info` once failed with "Permission denied ...tmp". Root may
    write anywhere, so the read-only cache is simulated where the rewrite fails."""
    cache = tmp_path / "cache"
    load_movielens_100k(cache_dir=cache, notify=lambda _: None, sources=fake_chain())
    (cache / "ml-100k.parquet").write_bytes(b"not parquet")

    def read_only(*_: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(movielens, "write_parsed_cache", read_only)
    info = dataset_info(cache_dir=cache, sources=fake_chain())
    assert info["cached"] is True and info["ratings"] == len(RATINGS)
    assert "unusable" in str(info["note"]) and "could not be rewritten" in str(info["note"])
    assert info["raw_download"] == str(cache / RECBOLE_WHEEL)


def test_a_cache_path_that_is_a_file_is_named_as_the_problem(tmp_path: Path) -> None:
    """It once failed as if GroupLens and PyPI were unreachable."""
    cache = tmp_path / "cache"
    cache.write_text("a file")
    for call in (
        lambda: load_movielens_100k(cache_dir=cache, notify=lambda _: None, sources=fake_chain()),
        lambda: dataset_info(cache_dir=cache),
    ):
        with pytest.raises(DataError, match=r"cache directory .* is a file, not a directory") as e:
            call()
        assert "GroupLens" not in str(e.value) and "PyPI" not in str(e.value)
    assert cache.read_text() == "a file"


# ---------------------------------------------------------------- the real data set


@pytest.fixture
def ml100k_dir() -> Path:
    """The unzipped official ml-100k folder named by `REELRANK_ML100K_DIR` (opt-in)."""
    value = os.environ.get(ML100K_DIR_ENV)
    if not value:
        pytest.skip(f"{ML100K_DIR_ENV} is not set: set it to an unzipped official ml-100k folder")
    path = Path(value).expanduser()
    if not path.is_dir():
        pytest.fail(f"{ML100K_DIR_ENV}={value} is not a folder; expected an unzipped ml-100k")
    return path


@pytest.fixture(scope="module")
def real_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ratings, Path, list[str]]:
    """MovieLens 100k through the real source chain into a fresh cache: (ratings, cache, notes)."""
    cache = tmp_path_factory.mktemp("real") / "cache"
    said: list[str] = []
    return load_movielens_100k(cache_dir=cache, notify=said.append), cache, said


@pytest.mark.integration
def test_real_movielens_100k_through_the_chain(
    monkeypatch: pytest.MonkeyPatch, real_chain: tuple[Ratings, Path, list[str]]
) -> None:
    ratings, cache, said = real_chain
    assert len(ratings) == 100_000
    assert np.unique(ratings.user_id).size == 943
    assert np.unique(ratings.movie_id).size == 1682
    assert set(ratings.movie_title[ratings.movie_id == "267"]) == {"unknown"}
    assert ratings.row(0)["movie_title"] == "Kolya (1996)"  # the first line of u.data
    assert said.count(LICENCE_NOTICE) == 1

    parses = count_parses(monkeypatch)
    cached = load_movielens_100k(cache_dir=cache, notify=said.append, sources=[])
    assert_same(cached, ratings)
    assert parses == []  # read from the parquet cache


def test_the_pinned_digests_are_the_official_files(ml100k_dir: Path) -> None:
    fetched = UserPath(ml100k_dir).fetch()  # checked against the pinned sums
    assert fetched.path == ml100k_dir
    for name, pinned in GROUPLENS_FILE_SHA256.items():
        assert hashlib.sha256((ml100k_dir / name).read_bytes()).hexdigest() == pinned
    official_zip = next(
        (p for p in (ml100k_dir / "ml-100k.zip", ml100k_dir.parent / "ml-100k.zip") if p.is_file()),
        None,
    )
    if official_zip is not None:  # then the pins must be those of its members too
        assert hashlib.sha256(official_zip.read_bytes()).hexdigest() == GROUPLENS_SHA256
        with zipfile.ZipFile(official_zip) as z:
            for name, pinned in GROUPLENS_FILE_SHA256.items():
                assert hashlib.sha256(z.read(f"ml-100k/{name}")).hexdigest() == pinned
    ratings = load_movielens_100k(ml100k_dir)
    assert len(ratings) == 100_000
    assert ratings.row(0)["movie_title"] == "Kolya (1996)"


@pytest.mark.integration
def test_real_chain_matches_a_local_copy(
    real_chain: tuple[Ratings, Path, list[str]], ml100k_dir: Path
) -> None:
    assert_same(real_chain[0], read_grouplens(ml100k_dir))
