"""The source chain: verification, atomic caching, fallback order and the all-failed message."""

from __future__ import annotations

import subprocess
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest

from reelrank.data.fetch import sources
from reelrank.data.fetch.sources import (
    GROUPLENS_FILE_SHA256,
    GROUPLENS_SHA256,
    GROUPLENS_URL,
    RECBOLE_SHA256,
    RECBOLE_WHEEL,
    Downloader,
    Fetched,
    GroupLensZip,
    PipDownloader,
    RecBoleWheel,
    default_sources,
    fetch_raw,
)
from reelrank.data.movielens.ml100k.user_path import OFFICIAL_DIGESTS, UNOFFICIAL_MARKER, UserPath
from reelrank.errors import DataError
from reelrank.testing.ml100k_fakes import (
    fake_digests,
    grouplens_files,
    grouplens_zip_bytes,
    recbole_wheel_bytes,
    sha256,
    write_grouplens_folder,
)

ZIP = grouplens_zip_bytes()
WHEEL = recbole_wheel_bytes()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def serve(data: bytes, calls: list[str] | None = None) -> Downloader:
    def download(url: str, dest: BinaryIO, timeout_s: float) -> None:
        if calls is not None:
            calls.append(url)
        dest.write(data)

    return download


def unreachable(url: str, dest: BinaryIO, timeout_s: float) -> None:
    dest.write(b"PK\x03\x04 partial")  # a partial body must not survive either
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def pip_serving(data: bytes | None, calls: list[str] | None = None) -> PipDownloader:
    def download(requirement: str, dest: Path, timeout_s: float) -> None:
        if calls is not None:
            calls.append(requirement)
        if data is not None:
            (dest / RECBOLE_WHEEL).write_bytes(data)

    return download


def test_constants_are_the_pinned_downloads() -> None:
    assert GROUPLENS_URL == "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    assert GROUPLENS_SHA256.startswith("50d2a982")
    assert RECBOLE_SHA256.startswith("9c994820")
    assert {name: sha[:8] for name, sha in GROUPLENS_FILE_SHA256.items()} == {
        "u.data": "06416e59",
        "u.item": "553841eb",
        "u.user": "f120e114",
    }
    assert OFFICIAL_DIGESTS.grouplens_zip == GROUPLENS_SHA256
    assert OFFICIAL_DIGESTS.grouplens_files == GROUPLENS_FILE_SHA256
    assert OFFICIAL_DIGESTS.recbole_wheel == RECBOLE_SHA256
    assert [s.name for s in default_sources()] == ["GroupLens", "PyPI (recbole 1.2.1 wheel)"]


# ---------------------------------------------------------------- GroupLens zip


def test_grouplens_download_is_verified_and_cached(tmp_path: Path) -> None:
    calls: list[str] = []
    source = GroupLensZip(sha256=sha256(ZIP), download=serve(ZIP, calls))
    fetched = source.fetch(tmp_path)
    assert fetched == Fetched("GroupLens", tmp_path / "ml-100k.zip", "grouplens", sha256(ZIP), True)
    assert (tmp_path / "ml-100k.zip").read_bytes() == ZIP
    assert files_in(tmp_path) == ["ml-100k.zip"]
    # Later, the verified copy is found without the network.
    assert source.cached(tmp_path) == Fetched(
        "GroupLens", tmp_path / "ml-100k.zip", "grouplens", sha256(ZIP), False
    )
    assert calls == [GROUPLENS_URL]


@pytest.mark.parametrize(
    "body", [ZIP[: len(ZIP) // 2], ZIP + b"extra", b""], ids=["truncated", "altered", "empty"]
)
def test_grouplens_sha_mismatch_is_rejected_and_nothing_stays(tmp_path: Path, body: bytes) -> None:
    source = GroupLensZip(sha256=sha256(ZIP), download=serve(body))
    with pytest.raises(DataError, match=r"sha256 .* expected .*truncated or altered"):
        source.fetch(tmp_path)
    assert files_in(tmp_path) == []


def test_grouplens_network_error_is_one_line_and_nothing_stays(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"network error: .*Name or service not known"):
        GroupLensZip(download=unreachable).fetch(tmp_path)
    assert files_in(tmp_path) == []


def test_grouplens_default_downloader_reads_a_url(tmp_path: Path) -> None:
    served = tmp_path / "served.zip"
    served.write_bytes(ZIP)
    cache = tmp_path / "cache"
    fetched = GroupLensZip(url=served.as_uri(), sha256=sha256(ZIP)).fetch(cache)
    assert fetched.path.read_bytes() == ZIP


def test_a_cached_download_with_the_wrong_sha_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "ml-100k.zip").write_bytes(ZIP + b"tampered")
    assert GroupLensZip(sha256=sha256(ZIP)).cached(tmp_path) is None
    assert files_in(tmp_path) == []


# ---------------------------------------------------------------- RecBole wheel


def test_recbole_wheel_is_verified_and_cached(tmp_path: Path) -> None:
    calls: list[str] = []
    source = RecBoleWheel(sha256=sha256(WHEEL), download=pip_serving(WHEEL, calls))
    fetched = source.fetch(tmp_path)
    assert fetched.path == tmp_path / RECBOLE_WHEEL
    assert (fetched.format, fetched.sha256, fetched.downloaded) == (
        "recbole_wheel",
        sha256(WHEEL),
        True,
    )
    assert files_in(tmp_path) == [RECBOLE_WHEEL]
    assert source.cached(tmp_path) is not None
    assert calls == ["recbole==1.2.1"]


def test_recbole_sha_mismatch_is_rejected_and_nothing_stays(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"{RECBOLE_WHEEL} .* has sha256"):
        RecBoleWheel(download=pip_serving(WHEEL)).fetch(tmp_path)  # the real pinned sha
    assert files_in(tmp_path) == []


def test_recbole_pip_that_saves_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"pip downloaded nothing, expected {RECBOLE_WHEEL}"):
        RecBoleWheel(download=pip_serving(None)).fetch(tmp_path)
    assert files_in(tmp_path) == []


def test_pip_download_runs_pip_and_reports_its_last_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(command)
        return subprocess.CompletedProcess(
            command, 1, "", "Looking in indexes: x\nERROR: No matching distribution found\n"
        )

    monkeypatch.setattr(sources.subprocess, "run", fake_run)
    with pytest.raises(DataError, match=r"failed: ERROR: No matching distribution found$"):
        sources.pip_download("recbole==1.2.1", tmp_path, 5.0)
    command = seen[0]
    assert command[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in command and command[-1] == "recbole==1.2.1"
    assert command[command.index("--dest") + 1] == str(tmp_path)


def test_pip_download_timeout_is_a_data_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def slow_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(command, 5.0)

    monkeypatch.setattr(sources.subprocess, "run", slow_run)
    with pytest.raises(DataError, match="took longer than 5 s"):
        sources.pip_download("recbole==1.2.1", tmp_path, 5.0)


# ---------------------------------------------------------------- the chain


@dataclass
class Scripted:
    """A source that is cached or not, and fetches or fails, as a test says; it counts calls."""

    name: str
    reason: str | None = None  # None: fetch works
    has_cache: bool = False
    fetches: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        return f"somewhere/{self.name}"

    def cached(self, cache_dir: Path) -> Fetched | None:
        return Fetched(self.name, cache_dir / self.name, "grouplens") if self.has_cache else None

    def fetch(self, cache_dir: Path) -> Fetched:
        self.fetches.append(cache_dir)
        if self.reason is not None:
            raise DataError(self.reason)
        return Fetched(self.name, cache_dir / self.name, "grouplens", downloaded=True)


def test_chain_falls_back_in_order(tmp_path: Path) -> None:
    first, second, third = Scripted("a", reason="down"), Scripted("b"), Scripted("c")
    said: list[str] = []
    fetched = fetch_raw([first, second, third], tmp_path, said.append)
    assert fetched.source == "b"
    assert (len(first.fetches), len(second.fetches), len(third.fetches)) == (1, 1, 0)
    assert any("a failed: down" in line for line in said)
    assert any("trying b" in line for line in said)


def test_chain_prefers_any_cached_copy_over_the_network(tmp_path: Path) -> None:
    first, second = Scripted("a"), Scripted("b", has_cache=True)
    assert fetch_raw([first, second], tmp_path, lambda _: None).source == "b"
    assert first.fetches == [] and second.fetches == []


def test_all_sources_failing_lists_each_and_says_what_to_do(tmp_path: Path) -> None:
    chain = [Scripted("GroupLens", reason="network error: no route"), Scripted("PyPI", "pip\nfail")]
    with pytest.raises(DataError) as caught:
        fetch_raw(chain, tmp_path, lambda _: None)
    message = str(caught.value)
    assert "  - GroupLens (somewhere/GroupLens): network error: no route" in message
    assert "  - PyPI (somewhere/PyPI): pip fail" in message  # reasons are one line each
    assert "--data PATH" in message and "ml-100k.zip" in message
    assert str(tmp_path) in message and "REELRANK_CACHE_DIR" in message


# ---------------------------------------------------------------- a user's path


def test_user_path_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no-such-dir: no such file or folder; expected .*u\.data"):
        UserPath(tmp_path / "no-such-dir").fetch()


def test_user_path_forms(tmp_path: Path) -> None:
    write_grouplens_folder(tmp_path)
    (tmp_path / "ml-100k.zip").write_bytes(ZIP)
    (tmp_path / RECBOLE_WHEEL).write_bytes(WHEEL)
    (tmp_path / "notes.txt").write_text("")
    fakes = fake_digests()
    assert UserPath(tmp_path, digests=fakes).fetch() == Fetched("your path", tmp_path, "grouplens")
    assert UserPath(tmp_path / "u.data", digests=fakes).fetch().path == tmp_path
    assert UserPath(tmp_path / "ml-100k.zip", digests=fakes).fetch() == Fetched(
        "your path", tmp_path / "ml-100k.zip", "grouplens", sha256(ZIP)
    )
    assert UserPath(tmp_path / RECBOLE_WHEEL, digests=fakes).fetch().format == "recbole_wheel"
    with pytest.raises(DataError, match=r"not a folder or a \.zip file"):
        UserPath(tmp_path / "notes.txt", digests=fakes).fetch()


def test_a_tampered_user_zip_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(ZIP[:-10])
    with pytest.raises(DataError) as caught:
        UserPath(archive, digests=fake_digests()).fetch()
    message = str(caught.value)
    assert message.startswith(
        f"{archive}: its sha256 is {sha256(ZIP[:-10])}, expected {sha256(ZIP)}"
    )
    assert "truncated, altered" in message and "Download it again" in message
    # The fakes are not the official zip either: by default the pinned sum is what counts.
    archive.write_bytes(ZIP)
    with pytest.raises(
        DataError, match=f"its sha256 is {sha256(ZIP)}, expected {GROUPLENS_SHA256}"
    ):
        UserPath(archive).fetch()


@pytest.mark.parametrize("name", ["u.data", "u.item", "u.user"])
def test_a_tampered_folder_file_is_refused_saying_what_to_do(tmp_path: Path, name: str) -> None:
    files = grouplens_files()
    good = sha256(files[name])
    files[name] = files[name].replace(b"5", b"4", 1)  # one changed byte
    folder = write_grouplens_folder(tmp_path / "ml-100k", files)
    with pytest.raises(DataError) as caught:
        UserPath(folder, digests=fake_digests()).fetch()
    message = str(caught.value)
    assert message.startswith(
        f"{folder / name}: its sha256 is {sha256(files[name])}, expected {good} "
        f"({name} in the official ml-100k.zip)"
    )
    assert "Unzip a fresh ml-100k.zip" in message and UNOFFICIAL_MARKER in message


def test_a_tampered_user_wheel_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / RECBOLE_WHEEL
    wheel.write_bytes(WHEEL)
    with pytest.raises(DataError, match=f"expected {RECBOLE_SHA256} .*pip download --no-deps"):
        UserPath(wheel).fetch()


def test_a_folder_missing_a_file_names_it(tmp_path: Path) -> None:
    files = grouplens_files()
    del files["u.item"]
    folder = write_grouplens_folder(tmp_path / "ml-100k", files)
    with pytest.raises(
        DataError, match=r"u\.item: cannot read it .*expected the unzipped GroupLens"
    ):
        UserPath(folder, digests=fake_digests()).fetch()


def test_other_data_is_read_unchecked_only_when_it_says_so(tmp_path: Path) -> None:
    folder = write_grouplens_folder(tmp_path / "mine")
    with pytest.raises(DataError, match="its sha256 is"):
        UserPath(folder).fetch()
    assert UserPath(folder, digests=None).fetch().path == folder
    (folder / UNOFFICIAL_MARKER).write_text("my own ratings\n")
    assert UserPath(folder).fetch() == Fetched("your path", folder, "grouplens")
