"""Where raw MovieLens files come from: GroupLens' zips or a wheel on PyPI, pinned by sha256.

The chain for MovieLens 100k (`default_sources`: GroupLens, then the `recbole` wheel) lives here
beside the pinned download that the later releases (`reelrank.data.movielens.zips`) reuse.

A source turns "the data set" into a verified local copy (`Fetched`). Every copy is checked
against the pinned SHA-256 sums here before it is used: the network sources check what they
download before anything is renamed into the cache, so the cache never holds a truncated or
altered download; a path the user gives is checked in place (`user_path`).
`fetch_raw` tries the network sources in order and, if all fail, raises one `DataError` that lists
each source with its reason and says how to supply the data by hand.

The network itself is reached only through two small functions (`urllib_download`,
`pip_download`) that each source takes as a field, so tests swap them for fakes.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, ClassVar, Literal, Protocol

from reelrank.data.fetch.cache import CACHE_DIR_ENV
from reelrank.errors import DataError
from reelrank.files import atomic_path, sha256_file, temporary_dir

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
GROUPLENS_PAGE = "https://grouplens.org/datasets/movielens/100k/"
GROUPLENS_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
GROUPLENS_ZIP = "ml-100k.zip"
# The files reelrank reads from the official ml-100k.zip (members ml-100k/u.*), with their sha256.
GROUPLENS_FILE_SHA256: Mapping[str, str] = MappingProxyType(
    {
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    }
)

# RecBole's wheel ships MovieLens 100k in atomic-file form, rows in u.data order.
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"

DOWNLOAD_TIMEOUT_S = 10.0  # per connect/read: short, so an unreachable host falls through quickly
PIP_TIMEOUT_S = 300.0

RawFormat = Literal["grouplens", "recbole_wheel"]
Notify = Callable[[str], None]
Downloader = Callable[[str, BinaryIO, float], None]
PipDownloader = Callable[[str, Path, float], None]


@dataclass(frozen=True)
class Fetched:
    """A verified local copy of the raw data set.

    `format` says which parser reads `path`; `sha256` is the digest of the file at `path` when it
    is one file (None for a folder); `downloaded` is True when the copy came over the network in
    this call.
    """

    source: str
    path: Path
    format: RawFormat
    sha256: str | None = None
    downloaded: bool = False


class Source(Protocol):
    """One place the raw data can come from."""

    @property
    def name(self) -> str: ...

    def describe(self) -> str:
        """Where the data comes from, in a few words, for messages."""
        ...

    def cached(self, cache_dir: Path) -> Fetched | None:
        """A verified copy already in `cache_dir`, or None. Never touches the network."""
        ...

    def fetch(self, cache_dir: Path) -> Fetched:
        """Get and verify a copy into `cache_dir`; raise `DataError` with a one-line reason."""
        ...


def urllib_download(url: str, dest: BinaryIO, timeout_s: float) -> None:
    """Stream `url` into `dest` (the default downloader of `GroupLensZip`)."""
    request = urllib.request.Request(url, headers={"User-Agent": "reelrank"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        shutil.copyfileobj(response, dest, 1 << 20)


def _network_reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"network error: {error.reason}"
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"


def _verified(path: Path, sha256: str) -> bool:
    """Whether `path` is a file with the digest `sha256`; a mismatching file is removed."""
    if not path.is_file():
        return False
    if sha256_file(path) == sha256:
        return True
    # Never trust (or keep) a raw download that does not match: a later fetch replaces it.
    path.unlink(missing_ok=True)
    return False


def _check_download(path: Path, expected: str, what: str) -> str:
    digest = sha256_file(path)
    if digest != expected:
        raise DataError(
            f"{what} ({path.stat().st_size:,} bytes) has sha256 {digest}, expected {expected}: "
            "a truncated or altered download, so it was discarded"
        )
    return digest


class _PinnedDownload:
    """What the network sources share: one file in the cache, trusted only with its pinned sha256.

    A source says how to download (`_download_to`) and what to call the download in messages
    (`_what`); `fetch` writes to a temporary name beside the cache file, checks the digest and
    only then renames it into place.
    """

    name: str
    filename: str
    sha256: str
    format: ClassVar[RawFormat]

    def cached(self, cache_dir: Path) -> Fetched | None:
        path = cache_dir / self.filename
        if _verified(path, self.sha256):
            return Fetched(self.name, path, self.format, self.sha256)
        return None

    def fetch(self, cache_dir: Path) -> Fetched:
        path = cache_dir / self.filename
        try:
            with atomic_path(path) as tmp:
                self._download_to(tmp, cache_dir)
                digest = _check_download(tmp, self.sha256, self._what())
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise DataError(_network_reason(e)) from e
        return Fetched(self.name, path, self.format, digest, downloaded=True)

    def _download_to(self, tmp: Path, cache_dir: Path) -> None:
        raise NotImplementedError

    def _what(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class GroupLensZip(_PinnedDownload):
    """The official `ml-100k.zip` from files.grouplens.org, checked against its SHA-256."""

    url: str = GROUPLENS_URL
    sha256: str = GROUPLENS_SHA256
    filename: str = GROUPLENS_ZIP
    timeout_s: float = DOWNLOAD_TIMEOUT_S
    download: Downloader = field(default=urllib_download, repr=False)
    name: str = "GroupLens"
    format: ClassVar[RawFormat] = "grouplens"

    def describe(self) -> str:
        return self.url

    def _download_to(self, tmp: Path, cache_dir: Path) -> None:
        with tmp.open("wb") as f:
            self.download(self.url, f, self.timeout_s)

    def _what(self) -> str:
        return f"the download of {self.url}"


def pip_download(requirement: str, dest: Path, timeout_s: float) -> None:
    """Run `pip download --no-deps` (the default downloader of `RecBoleWheel`).

    pip itself is used, not a hand-written index client, so the user's pip configuration (index
    URL, proxy, certificates) applies.
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--no-input", "--disable-pip-version-check", "--dest", str(dest), requirement,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise DataError(f"`pip download {requirement}` took longer than {timeout_s:.0f} s") from e
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {done.returncode}"
        raise DataError(f"`pip download {requirement}` failed: {detail}")


@dataclass(frozen=True)
class RecBoleWheel(_PinnedDownload):
    """The `recbole==1.2.1` wheel from the Python package index, checked against its SHA-256.

    It ships the same 100,000 ratings in u.data order; `read_recbole_wheel` reads them.
    """

    requirement: str = RECBOLE_REQUIREMENT
    filename: str = RECBOLE_WHEEL
    sha256: str = RECBOLE_SHA256
    timeout_s: float = PIP_TIMEOUT_S
    download: PipDownloader = field(default=pip_download, repr=False)
    name: str = "PyPI (recbole 1.2.1 wheel)"
    format: ClassVar[RawFormat] = "recbole_wheel"

    def describe(self) -> str:
        return f"pip download {self.requirement}"

    def _download_to(self, tmp: Path, cache_dir: Path) -> None:
        # pip chooses the file name inside a folder, so it downloads into a scratch folder first.
        with temporary_dir(cache_dir) as scratch:
            self.download(self.requirement, scratch, self.timeout_s)
            wheel = scratch / self.filename
            if not wheel.is_file():
                got = ", ".join(sorted(p.name for p in scratch.iterdir())) or "nothing"
                raise DataError(f"pip downloaded {got}, expected {self.filename}")
            os.replace(wheel, tmp)

    def _what(self) -> str:
        return self.filename


def default_sources() -> list[Source]:
    """The network sources, in the order they are tried."""
    return [GroupLensZip(), RecBoleWheel()]


def _one_line(message: str) -> str:
    return " ".join(message.split())


def fetch_raw(sources: Sequence[Source], cache_dir: Path, notify: Notify) -> Fetched:
    """The first verified copy: one already in `cache_dir`, else the first source that fetches.

    Raises `DataError` listing every source tried, with its reason, if none works.
    """
    for source in sources:
        found = source.cached(cache_dir)
        if found is not None:
            return found
    reasons: list[str] = []
    for i, source in enumerate(sources):
        if i > 0:
            notify(f"reelrank: trying {source.name} ({source.describe()}) instead.")
        else:
            notify(f"reelrank: downloading MovieLens 100k from {source.describe()} ...")
        try:
            return source.fetch(cache_dir)
        except DataError as e:
            reason = _one_line(str(e))
            reasons.append(f"  - {source.name} ({source.describe()}): {reason}")
            notify(f"reelrank: {source.name} failed: {reason}")
    tried = "\n".join(reasons) if reasons else "  (no sources were given)"
    raise DataError(
        "Could not get MovieLens 100k. Tried:\n"
        f"{tried}\n"
        f"To supply it by hand, download {GROUPLENS_ZIP} from {GROUPLENS_PAGE} (on any machine "
        "with internet access) and pass it, or its unzipped ml-100k folder, with --data PATH; "
        f"or put {GROUPLENS_ZIP} into the cache directory {cache_dir} (choose another with "
        f"--cache-dir or the {CACHE_DIR_ENV} environment variable)."
    )
