"""MovieLens 1M, 10M, 20M, 25M, 32M and latest-small from the official GroupLens zips.

`DATASETS` names each data set (`--dataset NAME`) with its zip, the folder inside it and how the
zip is checked: TensorFlow Datasets pins the sha256 of ml-1m, ml-20m, ml-25m and
ml-latest-small; for ml-10m and ml-32m the `.md5` that GroupLens publishes beside the zip is
fetched and the download checked against it (the verified checksum is kept beside the cached zip).
Either way a download goes to a temporary name in the cache, is checked, and only then renamed.

`load_grouplens_dataset` is the entry point: it reads a zip or folder the user gives, or fetches
the zip into the cache (`fetch_grouplens_dataset`, showing GroupLens' terms once per data set) and
reads it (`read_grouplens_dataset`). The download and its checks are in `download`,
the parsers in `ratings` (ratings) and `tables` (movies, users, the join).
Rows stay in file order; ids are encoded as strings sorted as strings (`Interactions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from reelrank.data.bad_rows import BAD_ROW_CHOICES, BadRows
from reelrank.data.fetch.archive import Archive
from reelrank.data.fetch.cache import resolve_cache_dir
from reelrank.data.fetch.sources import Downloader, urllib_download
from reelrank.data.interactions import Interactions
from reelrank.data.movielens.zips.download import (
    Notify,
    fetch_grouplens_dataset,
    md5_file,
    notify_stderr,
    parse_md5,
)
from reelrank.data.movielens.zips.ratings import Layout, Opener, read_rating_columns
from reelrank.data.movielens.zips.tables import build_interactions, parse_movies, parse_users
from reelrank.errors import DataError, ReelrankError
from reelrank.files import atomic_write_text, sha256_file

FILES_URL = "https://files.grouplens.org/datasets/movielens/"
PAGE_URL = "https://grouplens.org/datasets/movielens/"
# A zip's ratings file may be this large once unpacked (ml-32m's ratings.csv is 0.9 GB): the
# size a zip declares bounds what it unpacks to, so a bigger claim is refused before reading.
MAX_RATINGS_BYTES = 8 * 1024**3


@dataclass(frozen=True)
class DatasetSpec:
    """One GroupLens data set: where its zip is, how it is checked and how its files look.

    `folder` is the folder inside the zip; `format` "dat" (`::`-separated, no header) or "csv"
    (with a header); `sha256` a pinned digest of the zip, or else `md5_url` the checksum file
    GroupLens publishes beside it. `whole_stars`: ratings are 1..5 (else 0.5..5 in half stars);
    `has_users`: a `users.dat` with demographics.
    """

    name: str
    title: str
    folder: str
    format: Layout
    page: str
    sha256: str | None = None
    md5_url: str | None = None
    movies_encoding: str = "utf-8"
    whole_stars: bool = False
    has_users: bool = False
    extra_terms: str = ""

    @property
    def zip_name(self) -> str:
        return f"{self.name}.zip"

    @property
    def url(self) -> str:
        return FILES_URL + self.zip_name

    @property
    def ratings_file(self) -> str:
        return f"ratings.{self.format}"

    @property
    def movies_file(self) -> str:
        return f"movies.{self.format}"

    @property
    def files(self) -> tuple[str, ...]:
        """The files reelrank reads, inside `folder`."""
        return (self.ratings_file, self.movies_file, *(("users.dat",) if self.has_users else ()))

    @property
    def expected(self) -> str:
        """The right input in the user's words, for messages."""
        return (
            f"the unzipped {self.title} folder {self.folder}/ ({', '.join(self.files)}), its "
            f"parent folder, or {self.zip_name} from {self.page}"
        )


DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {
        "ml-1m": DatasetSpec(
            "ml-1m", "MovieLens 1M", "ml-1m", "dat", PAGE_URL + "1m/",
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            movies_encoding="latin-1", whole_stars=True, has_users=True,
            extra_terms=" (and send GroupLens a copy of those publications)",
        ),
        "ml-10m": DatasetSpec(
            "ml-10m", "MovieLens 10M", "ml-10M100K", "dat", PAGE_URL + "10m/",
            md5_url=FILES_URL + "ml-10m.zip.md5",
        ),
        "ml-20m": DatasetSpec(
            "ml-20m", "MovieLens 20M", "ml-20m", "csv", PAGE_URL + "20m/",
            sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        ),
        "ml-25m": DatasetSpec(
            "ml-25m", "MovieLens 25M", "ml-25m", "csv", PAGE_URL + "25m/",
            sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
        ),
        "ml-32m": DatasetSpec(
            "ml-32m", "MovieLens 32M", "ml-32m", "csv", PAGE_URL + "32m/",
            md5_url=FILES_URL + "ml-32m.zip.md5",
        ),
        "ml-latest-small": DatasetSpec(
            "ml-latest-small", "MovieLens latest-small", "ml-latest-small", "csv",
            PAGE_URL + "latest/",
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        ),
    }
)  # fmt: skip


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of `name`; an unknown name is a `ReelrankError` listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ReelrankError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}"
        ) from None


def licence_notice(spec: DatasetSpec) -> str:
    """GroupLens' terms for `spec`, as shown once on first use."""
    return f"""\
{spec.title} is provided by GroupLens Research (University of Minnesota) under its own terms
(see the README in {spec.zip_name}): it may be used for research purposes only; you may not state
or imply endorsement by the University of Minnesota or GroupLens; you may not redistribute the
data without separate permission; no commercial or revenue-bearing use without permission.
Acknowledge its use in publications{spec.extra_terms}; GroupLens asks you to cite:
  F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context.
  ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19."""


def load_grouplens_dataset(
    name: str,
    data: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    notify: Notify | None = None,
    download: Downloader = urllib_download,
    on_bad_rows: BadRows = "refuse",
) -> Interactions:
    """The GroupLens data set `name` (a key of `DATASETS`) as `Interactions`, rows in file order.

    `data`: a zip or unzipped folder (or its parent) to read in place; a zip must have the
    pinned sha256 where there is one (or match a `.md5` file beside it), a folder is read
    unchecked. Without `data` the zip is downloaded into `cache_dir` (default:
    `REELRANK_CACHE_DIR` / the XDG cache) on first use and verified, GroupLens' terms are shown
    once, and the cached zip is read. `download` fetches a URL (tests pass fakes); `notify`
    receives progress lines and the terms (default: stderr); `on_bad_rows` as in
    `read_grouplens_dataset`.
    """
    spec = dataset_spec(name)
    say = notify or notify_stderr
    if data is not None:
        path = checked_user_path(spec, Path(data))
    else:
        cache = resolve_cache_dir(cache_dir)
        path = fetch_grouplens_dataset(spec, cache, download=download, notify=say)
        show_licence_once(spec, cache, say)
    return read_grouplens_dataset(spec.name, path, on_bad_rows=on_bad_rows, notify=say)


def read_grouplens_dataset(
    name: str, path: str | Path, *, on_bad_rows: BadRows = "refuse", notify: Notify | None = None
) -> Interactions:
    """Read the data set `name` from its zip or unzipped folder (or the folder's parent); no
    digest is checked here.

    `on_bad_rows`: what to do with ratings that repeat a user and movie, carry an implausible
    time or name a movie (or ml-1m user) the other files lack: "refuse" (a `DataError` naming
    the line), "skip" (drop them; repeats keep their first rating) or "keep-last" (repeats keep
    their latest); what was dropped is reported through `notify`.
    """
    spec = dataset_spec(name)
    if on_bad_rows not in BAD_ROW_CHOICES:
        raise ValueError(f"on_bad_rows must be one of {BAD_ROW_CHOICES}: {on_bad_rows!r}")
    root = locate(spec, Path(path))
    with Archive(root, (f"{spec.folder}/", ""), spec.expected) as archive:
        movies_file, movies_text = archive.text(spec.movies_file, spec.movies_encoding)
        movies = parse_movies(movies_text, movies_file, spec.format)
        del movies_text
        users = None
        if spec.has_users:
            users = parse_users(*reversed(archive.text("users.dat", "latin-1")))
        ratings_file, open_ratings = _opener(archive, spec.ratings_file)
        columns = read_rating_columns(
            open_ratings, ratings_file, spec.format, whole_stars=spec.whole_stars
        )
    return build_interactions(
        columns,
        movies,
        users,
        ratings_file,
        names=(spec.movies_file, "users.dat"),
        on_bad_rows=on_bad_rows,
        notify=notify,
    )


def locate(spec: DatasetSpec, path: Path) -> Path:
    """The zip or the data set's own folder that `path` means (a folder's parent, a file in it)."""
    path = path.expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; expected {spec.expected}.")
    if path.is_file():
        if path.name in spec.files:
            return path.parent
        if path.suffix.lower() != ".zip":
            raise DataError(f"{path}: not a folder or a .zip file; expected {spec.expected}.")
        return path
    if (path / spec.ratings_file).exists():
        return path
    if (path / spec.folder / spec.ratings_file).exists():
        return path / spec.folder
    raise DataError(
        f"{path}: holds neither {spec.ratings_file} nor {spec.folder}/{spec.ratings_file}; "
        f"expected {spec.expected}."
    )


def _opener(archive: Archive, name: str) -> tuple[str, Opener]:
    """(a display name, a function opening the file as a binary stream) for a large file."""
    if archive.zip is None:
        file = archive.path / name
        if not file.is_file():
            raise DataError(f"{file}: no such file; expected {archive.expected}.")
        return str(file), lambda: file.open("rb")
    zip_file = archive.zip
    members = set(zip_file.namelist())
    member = next((p + name for p in archive.prefixes if p + name in members), None)
    if member is None:
        raise DataError(
            f"{archive.path}: has no {archive.prefixes[0]}{name}; expected {archive.expected}."
        )
    display = f"{archive.path}:{member}"
    if zip_file.getinfo(member).file_size > MAX_RATINGS_BYTES:
        raise DataError(
            f"{display}: larger than {MAX_RATINGS_BYTES // 1024**3} GiB unpacked, refused (a "
            "damaged or malicious archive?); expected a MovieLens ratings file of at most 1 GB."
        )
    return display, lambda: zip_file.open(member)


def checked_user_path(spec: DatasetSpec, path: Path) -> Path:
    """`path` located (`locate`); a zip is first checked against the pinned sha256, or, for a
    data set without one, against a `.md5` file beside it if there is one. Folders are not."""
    root = locate(spec, path)
    if not root.is_file():
        return root
    if spec.sha256 is not None:
        expected, digest, kind = spec.sha256, sha256_file(root), "sha256"
    else:
        beside = root.with_name(root.name + ".md5")
        if not beside.is_file():
            return root
        expected = parse_md5(beside.read_text("utf-8", "replace"), spec.zip_name, str(beside))
        digest, kind = md5_file(root), "md5"
    if digest != expected:
        raise DataError(
            f"{root}: its {kind} is {digest}, expected {expected} (the official {spec.zip_name} "
            f"from {spec.page}); the file is truncated, altered or not that file, so it was not "
            f"read. Download it again from {spec.url} and pass it with --data; if the zip holds "
            "other data on purpose, unzip it and pass the folder."
        )
    return root


def licence_marker(spec: DatasetSpec) -> str:
    return f"{spec.name}.licence-shown"


def show_licence_once(spec: DatasetSpec, cache: Path, notify: Notify) -> None:
    """Show `spec`'s terms unless a marker in `cache` says they were shown; then write it."""
    marker = cache / licence_marker(spec)
    if marker.exists():
        return
    notify(licence_notice(spec))
    atomic_write_text(marker, licence_notice(spec) + "\n")
