"""A path the user gives (`--data PATH`): read in place, after a check against pinned sha256 sums.

`UserPath` is a `Source` like the network ones, but it never touches the cache or the network;
its docstring says exactly what is checked for each form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reelrank.data.fetch.sources import (
    GROUPLENS_FILE_SHA256,
    GROUPLENS_PAGE,
    GROUPLENS_SHA256,
    GROUPLENS_URL,
    GROUPLENS_ZIP,
    RECBOLE_REQUIREMENT,
    RECBOLE_SHA256,
    RECBOLE_WHEEL,
    Fetched,
    RawFormat,
)
from reelrank.errors import DataError
from reelrank.files import sha256_file

# A file of this name in a folder says it holds other data in the GroupLens layout on purpose
# (`reelrank.testing.write_grouplens` writes one), so the folder is read without the sha256 check.
UNOFFICIAL_MARKER = "reelrank-unofficial-data.txt"


@dataclass(frozen=True)
class Digests:
    """The sha256 sums a path the user gives must have, by form; the defaults are the official
    files' (`OFFICIAL_DIGESTS`). Tests pass the digests of their own small fakes."""

    grouplens_zip: str = GROUPLENS_SHA256
    grouplens_files: Mapping[str, str] = field(default_factory=lambda: GROUPLENS_FILE_SHA256)
    recbole_wheel: str = RECBOLE_SHA256


OFFICIAL_DIGESTS = Digests()


@dataclass(frozen=True)
class UserPath:
    """A path the user gave: the unzipped GroupLens folder, `ml-100k.zip`, or the RecBole wheel.

    It is read in place, never copied into the cache, and checked before it is read. A `.zip` must
    have the sha256 of the official `ml-100k.zip` (50d2a982…), and a `.whl` that of the
    `recbole-1.2.1` wheel (9c994820…). A folder is checked file by file: of the files in the
    official zip, reelrank reads only `u.data`, `u.item` and `u.user`, and each must have the
    sha256 it has there (06416e59…, 553841eb…, f120e114…); the folder's other files (README,
    u.genre, u1.base, ...) are neither read nor checked. A file that does not match is refused with
    a `DataError` that names it, the digest found and the digest expected. A folder that holds
    other data in the GroupLens layout on purpose (your own ratings, or the synthetic data of
    `reelrank.testing`) says so with a file named `reelrank-unofficial-data.txt` and is then read
    unchecked; in Python, `digests=None` skips the check too.
    """

    path: Path
    name: str = "your path"
    digests: Digests | None = OFFICIAL_DIGESTS

    def describe(self) -> str:
        return str(self.path)

    def cached(self, cache_dir: Path) -> Fetched | None:
        return None

    def fetch(self, cache_dir: Path | None = None) -> Fetched:
        path = Path(self.path).expanduser()
        expected = (
            "the unzipped GroupLens folder holding u.data, u.item and u.user, "
            f"or the {GROUPLENS_ZIP} downloaded from {GROUPLENS_PAGE}"
        )
        if not path.exists():
            raise DataError(f"{path}: no such file or folder; expected {expected}.")
        if path.is_file() and path.name in GROUPLENS_FILE_SHA256:
            path = path.parent  # a file inside the folder: the folder is meant
        if path.is_file() and path.suffix == ".whl":
            return self._checked_file(path, "recbole_wheel")
        if path.is_file() and path.suffix != ".zip":
            raise DataError(f"{path}: not a folder or a .zip file; expected {expected}.")
        if path.is_file():
            return self._checked_file(path, "grouplens")
        if self.digests is not None and not (path / UNOFFICIAL_MARKER).is_file():
            for name, pinned in self.digests.grouplens_files.items():
                _check_user_file(path / name, pinned, expected)
        return Fetched(self.name, path, "grouplens")

    def _checked_file(self, path: Path, form: RawFormat) -> Fetched:
        if self.digests is None:
            return Fetched(self.name, path, form)
        pinned = (
            self.digests.recbole_wheel if form == "recbole_wheel" else self.digests.grouplens_zip
        )
        return Fetched(self.name, path, form, _check_user_file(path, pinned, None))


def _check_user_file(path: Path, pinned: str, expected_folder: str | None) -> str:
    """The digest of `path`, a user's file, if it is `pinned`; else a `DataError` saying what to do.

    `expected_folder` describes the folder a member file belongs to (None for a zip or a wheel).
    """
    try:
        digest = sha256_file(path)
    except OSError as e:
        raise DataError(
            f"{path}: cannot read it ({e.strerror or e}); expected {expected_folder or path.name}."
        ) from e
    if digest == pinned:
        return digest
    if path.suffix == ".whl":
        official = f"the {RECBOLE_WHEEL} on the Python package index"
        todo = f"Download it again with `pip download --no-deps {RECBOLE_REQUIREMENT}`."
    elif expected_folder is None:
        official = f"the official {GROUPLENS_ZIP} from {GROUPLENS_PAGE}"
        todo = (
            f"Download it again from {GROUPLENS_URL} and pass that file with --data. If the zip "
            f"holds other data on purpose, unzip it and put a file named {UNOFFICIAL_MARKER} into "
            "the folder."
        )
    else:
        official = f"{path.name} in the official {GROUPLENS_ZIP}"
        todo = (
            f"Unzip a fresh {GROUPLENS_ZIP} from {GROUPLENS_PAGE} and pass the ml-100k folder (or "
            f"the zip) with --data. If the folder holds other data on purpose, put a file named "
            f"{UNOFFICIAL_MARKER} into it."
        )
    raise DataError(
        f"{path}: its sha256 is {digest}, expected {pinned} ({official}); the file is truncated, "
        f"altered or not that file, so it was not read. {todo}"
    )
