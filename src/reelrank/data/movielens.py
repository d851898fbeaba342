"""MovieLens 100k as a `Ratings` table with TFDS `movielens/100k-ratings` feature names.

`load_movielens_100k` is the entry point: it reads a path the user gives, or else a parsed cache
(`ml-100k.parquet` + `ml-100k.json`) in the cache directory, or else fetches the raw files through
the source chain in `reelrank.data.sources`, parses them and writes the parsed cache.

Two parsers read the two raw forms and give identical tables: `read_grouplens` (the GroupLens
folder or `ml-100k.zip`: `u.data`, `u.item`, `u.user`) and `read_recbole_wheel` (the same data as
shipped in the `recbole` wheel). Rows stay in `u.data` order, because the canonical folds of
MovieLens 100k are row ranges of that order.
"""

from __future__ import annotations

import contextlib
import json
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.data.cache import atomic_path, atomic_write_text, resolve_cache_dir
from reelrank.data.sources import (
    Fetched,
    Source,
    UserPath,
    default_sources,
    fetch_raw,
    sha256_file,
)
from reelrank.types import GENRES, RATING_FEATURES, DataError, Ratings

DATASET = "movielens/100k-ratings"
FORMAT_VERSION = 1  # of the parsed cache; bump when its layout or the parsing changes
PARQUET_NAME = "ml-100k.parquet"
MANIFEST_NAME = "ml-100k.json"
LICENCE_MARKER = "ml-100k.licence-shown"

# TFDS `bucketized_user_age`: the lower edge of the bucket an age falls in.
AGE_BUCKETS: tuple[int, ...] = (1, 18, 25, 35, 45, 50, 56)

LICENCE_NOTICE = """\
MovieLens 100k is provided by GroupLens Research (University of Minnesota) under its own terms
(see the README in ml-100k.zip): it may be used for research purposes only; you may not state or
imply endorsement by the University of Minnesota or GroupLens; you may not redistribute the data
without separate permission; no commercial or revenue-bearing use without permission.
Acknowledge its use in publications; GroupLens asks you to cite:
  F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context.
  ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19."""

_UDATA_FIELDS = "user id | item id | rating | timestamp"
_UITEM_FIELDS = (
    "movie id | title | release date | video release date | IMDb URL | 19 genre flags (0 or 1)"
)
_UUSER_FIELDS = "user id | age | gender | occupation | zip code"

_RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
_RECBOLE_HEADERS = {
    "inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
    "user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
}
_RECBOLE_UNKNOWN = "unkonwn"  # sic: RecBole's title and year for movie 267, "unknown" in u.item

_STRING_COLUMNS = (
    "user_id",
    "movie_id",
    "movie_title",
    "user_gender",
    "user_occupation_text",
    "user_zip_code",
)

Notify = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Public API


def load_movielens_100k(
    data: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    notify: Notify | None = None,
    sources: Sequence[Source] | None = None,
) -> Ratings:
    """MovieLens 100k as `Ratings`, rows in `u.data` order.

    `data`: a GroupLens folder or `ml-100k.zip` (or the RecBole wheel) to read instead of the
    cache; only that path is used. `cache_dir`: overrides `REELRANK_CACHE_DIR` / the XDG default.
    `notify`: receives progress lines and the licence notice (default: stderr). `sources`: the
    network sources to try in order (default: GroupLens, then the RecBole wheel on PyPI).
    """
    say = notify or _stderr
    if data is not None:
        return read_fetched(UserPath(Path(data)).fetch())
    cache = resolve_cache_dir(cache_dir)
    ratings = _read_parsed_cache(cache, say)
    if ratings is not None:
        return ratings
    fetched = fetch_raw(default_sources() if sources is None else sources, cache, say)
    if fetched.downloaded:
        _show_licence_once(cache, say)
    ratings = read_fetched(fetched)
    try:
        _write_parsed_cache(cache, ratings, fetched)
    except OSError as e:  # the data is good; only the speed-up is lost
        say(f"reelrank: could not write the parsed cache in {cache} ({e}); continuing without it.")
    return ratings


def dataset_info(
    data: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    sources: Sequence[Source] | None = None,
) -> dict[str, object]:
    """What `reelrank data info` shows: where the data is and its counts. Never downloads.

    With `data`, that path is read. Otherwise the parsed cache is read (rebuilt first from a raw
    download already in the cache, if needed); if nothing is cached, `cached` is False and `note`
    says how the data will be obtained.
    """
    cache = resolve_cache_dir(cache_dir)
    info: dict[str, object] = {"dataset": DATASET, "cache_dir": str(cache)}
    if data is not None:
        fetched = UserPath(Path(data)).fetch()
        return {
            **info,
            "cached": False,
            "source": fetched.source,
            "path": str(fetched.path),
            **_counts(read_fetched(fetched)),
        }
    notes: list[str] = []
    ratings = _read_parsed_cache(cache, notes.append)
    if ratings is None:
        for source in default_sources() if sources is None else sources:
            fetched_raw = source.cached(cache)
            if fetched_raw is not None:
                ratings = read_fetched(fetched_raw)
                _write_parsed_cache(cache, ratings, fetched_raw)
                break
    if ratings is None:
        return {
            **info,
            "cached": False,
            "source": None,
            "path": None,
            "note": " ".join(
                [
                    *notes,
                    "Nothing is cached yet: MovieLens 100k is downloaded on first use "
                    "(or pass --data PATH to read a copy you have).",
                ]
            ),
        }
    manifest = json.loads((cache / MANIFEST_NAME).read_text(encoding="utf-8"))
    return {
        **info,
        "cached": True,
        "source": manifest["source"],
        "path": str(cache / PARQUET_NAME),
        "raw_download": str(cache / manifest["raw_file"]),
        "raw_sha256": manifest["raw_sha256"],
        **_counts(ratings),
    }


def read_fetched(fetched: Fetched) -> Ratings:
    """Parse a verified raw copy with the parser its format needs."""
    if fetched.format == "recbole_wheel":
        return read_recbole_wheel(fetched.path)
    return read_grouplens(fetched.path)


def read_grouplens(path: Path) -> Ratings:
    """MovieLens 100k from the GroupLens folder (`u.data`, `u.item`, `u.user`) or `ml-100k.zip`.

    `u.item` and `u.user` are Latin-1 text with `|`-separated fields; `u.data` is tab-separated.
    """
    path = Path(path)
    with _Archive(path, ("ml-100k/", ""), _GROUPLENS_EXPECTED) as archive:
        users_file, users_text = archive.text("u.user", "latin-1")
        items_file, items_text = archive.text("u.item", "latin-1")
        data_file, data_text = archive.text("u.data", "latin-1")
    users = _parse_grouplens_users(users_text, users_file)
    items = _parse_grouplens_items(items_text, items_file)
    table = _parse_ratings(data_text, data_file, first_line=1)
    return _assemble(table, items, users, data_file, first_line=1, names=("u.user", "u.item"))


def read_recbole_wheel(path: Path) -> Ratings:
    """MovieLens 100k from the `recbole` wheel's `dataset_example/ml-100k` atomic files (UTF-8).

    Titles are rebuilt as "Title (Year)" so they match `u.item`.
    """
    path = Path(path)
    with _Archive(path, (_RECBOLE_DIR, ""), _RECBOLE_EXPECTED) as archive:
        texts = {kind: archive.text(f"ml-100k.{kind}", "utf-8") for kind in _RECBOLE_HEADERS}
    for kind, (file, text) in texts.items():
        header = text.split("\n", 1)[0].rstrip("\r")
        if header != _RECBOLE_HEADERS[kind]:
            raise _error(
                file, 1, f"the header is {header!r}", f"{_RECBOLE_HEADERS[kind]!r} (RecBole 1.2.1)"
            )
    (user_file, user_text), (item_file, item_text) = texts["user"], texts["item"]
    users = _parse_recbole_users(user_text, user_file)
    items = _parse_recbole_items(item_text, item_file)
    inter_file, inter_text = texts["inter"]
    table = _parse_ratings(inter_text.partition("\n")[2], inter_file, first_line=2)
    names = ("ml-100k.user", "ml-100k.item")
    return _assemble(table, items, users, inter_file, first_line=2, names=names)


# --------------------------------------------------------------------------------------------
# Reading files from a folder or a zip


def _error(file: str, line: int | None, problem: str, expected: str) -> DataError:
    where = f"{file}, line {line}" if line is not None else file
    return DataError(f"{where}: {problem}; expected {expected}.")


_GROUPLENS_EXPECTED = (
    "the GroupLens MovieLens 100k folder (u.data, u.item, u.user) or ml-100k.zip, "
    "whose files are under ml-100k/"
)
_RECBOLE_EXPECTED = f"the recbole 1.2.1 wheel, whose data files are under {_RECBOLE_DIR}"


class _Archive:
    """Files by name from a folder or a zip (looked up under `prefixes`), with readable errors."""

    def __init__(self, path: Path, prefixes: tuple[str, ...], expected: str) -> None:
        self.path = path
        self.prefixes = prefixes
        self.expected = expected
        self.zip: zipfile.ZipFile | None = None
        if path.is_dir():
            return
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(
                f"{path}: not a readable zip file ({e}); it may be truncated or corrupt. "
                f"Expected {expected}; download it again."
            ) from e

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.zip is not None:
            self.zip.close()

    def text(self, name: str, encoding: str) -> tuple[str, str]:
        """(a display name for error messages, the decoded text) of the file `name`."""
        if self.zip is None:
            file = self.path / name
            try:
                raw = file.read_bytes()
            except OSError as e:
                raise DataError(
                    f"{file}: cannot read it ({e.strerror or e}); expected {self.expected}."
                ) from e
            return _decode(raw, str(file), encoding)
        members = set(self.zip.namelist())
        member = next((p + name for p in self.prefixes if p + name in members), None)
        if member is None:
            raise DataError(
                f"{self.path}: has no {self.prefixes[0]}{name}; expected {self.expected}."
            )
        display = f"{self.path}:{member}"
        try:
            raw = self.zip.read(member)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise DataError(
                f"{display}: cannot be unpacked ({e}); the zip is corrupt or truncated. "
                "Download it again."
            ) from e
        return _decode(raw, display, encoding)


def _decode(raw: bytes, file: str, encoding: str) -> tuple[str, str]:
    try:
        return file, raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problem = f"byte {raw[e.start]:#04x} is not valid {encoding}"
        raise _error(file, line, problem, f"{encoding} text") from e


def _lines(text: str) -> list[str]:
    # Not str.splitlines: it also splits at \x85 and \x1c-\x1e, which Latin-1 text may hold.
    # A final newline (or several) ends the last record; \r\n line ends are accepted.
    text = text.replace("\r\n", "\n").rstrip("\n")
    return text.split("\n") if text else []


# --------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class _Items:
    ids: np.ndarray  # [m] int64
    titles: np.ndarray  # [m] str
    genres: np.ndarray  # [m, len(GENRES)] bool


@dataclass(frozen=True)
class _Users:
    ids: np.ndarray  # [u] int64
    ages: np.ndarray  # [u] int64
    genders: np.ndarray  # [u] str
    occupations: np.ndarray  # [u] str
    zips: np.ndarray  # [u] str


def _whole_number(value: str, file: str, line: int, what: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise _error(file, line, f"{what} is {value!r}", f"{what} to be a whole number")
    return int(value)


def _fields(line: str, sep: str, count: int, file: str, lineno: int, layout: str) -> list[str]:
    fields = line.split(sep)
    if len(fields) != count:
        shown = "\\t" if sep == "\t" else sep
        raise _error(
            file, lineno, f"found {len(fields)} fields", f"{count} '{shown}'-separated: {layout}"
        )
    return fields


def _check_unique(ids: list[int], file: str, first_line: int, what: str) -> None:
    seen: dict[int, int] = {}
    for i, value in enumerate(ids):
        lineno = first_line + i
        if value in seen:
            raise _error(
                file,
                lineno,
                f"{what} {value} appears again (first on line {seen[value]})",
                f"each {what} once",
            )
        seen[value] = lineno


def _users(rows: list[tuple[int, int, str, str, str]], file: str, first_line: int) -> _Users:
    if not rows:
        raise _error(file, None, "it has no users", f"one line per user: {_UUSER_FIELDS}")
    _check_unique([r[0] for r in rows], file, first_line, "user id")
    for i, (_, _, gender, occupation, _) in enumerate(rows):
        if gender not in ("M", "F"):
            raise _error(file, first_line + i, f"gender is {gender!r}", "'M' or 'F'")
        if not occupation:
            raise _error(file, first_line + i, "occupation is empty", "an occupation")
    ids, ages, genders, occupations, zips = zip(*rows, strict=True)
    return _Users(
        ids=np.array(ids, dtype=np.int64),
        ages=np.array(ages, dtype=np.int64),
        genders=np.array(genders, dtype=str),
        occupations=np.array(occupations, dtype=str),
        zips=np.array(zips, dtype=str),
    )


def _parse_grouplens_users(text: str, file: str) -> _Users:
    rows = []
    for i, line in enumerate(_lines(text)):
        uid, age, gender, occupation, zip_code = _fields(line, "|", 5, file, i + 1, _UUSER_FIELDS)
        rows.append(
            (
                _whole_number(uid, file, i + 1, "user id"),
                _whole_number(age, file, i + 1, "age"),
                gender,
                occupation,
                zip_code,
            )
        )
    return _users(rows, file, 1)


def _parse_recbole_users(text: str, file: str) -> _Users:
    rows = []
    for i, line in enumerate(_lines(text)[1:]):
        lineno = i + 2
        uid, age, gender, occupation, zip_code = _fields(line, "\t", 5, file, lineno, "user fields")
        rows.append(
            (
                _whole_number(uid, file, lineno, "user id"),
                _whole_number(age, file, lineno, "age"),
                gender,
                occupation,
                zip_code,
            )
        )
    return _users(rows, file, 2)


def _items(
    ids: list[int], titles: list[str], genres: list[list[bool]], file: str, first: int
) -> _Items:
    if not ids:
        raise _error(file, None, "it has no movies", "one line per movie")
    _check_unique(ids, file, first, "movie id")
    return _Items(
        ids=np.array(ids, dtype=np.int64),
        titles=np.array(titles, dtype=str),
        genres=np.array(genres, dtype=bool).reshape(len(ids), len(GENRES)),
    )


def _parse_grouplens_items(text: str, file: str) -> _Items:
    ids: list[int] = []
    titles: list[str] = []
    genres: list[list[bool]] = []
    for i, line in enumerate(_lines(text)):
        fields = _fields(line, "|", 5 + len(GENRES), file, i + 1, _UITEM_FIELDS)
        ids.append(_whole_number(fields[0], file, i + 1, "movie id"))
        # Three titles in u.item end in a space; strip so every source gives the same title.
        titles.append(fields[1].strip())
        flags = fields[-len(GENRES) :]
        if any(flag not in ("0", "1") for flag in flags):
            raise _error(
                file,
                i + 1,
                f"the genre flags are {'|'.join(flags)!r}",
                f"the last {len(GENRES)} fields to be 0 or 1",
            )
        genres.append([flag == "1" for flag in flags])
    return _items(ids, titles, genres, file, 1)


def _parse_recbole_items(text: str, file: str) -> _Items:
    genre_index = {g: j for j, g in enumerate(GENRES)}
    ids: list[int] = []
    titles: list[str] = []
    genres: list[list[bool]] = []
    for i, line in enumerate(_lines(text)[1:]):
        lineno = i + 2
        item_id, title, year, classes = _fields(line, "\t", 4, file, lineno, "item fields")
        ids.append(_whole_number(item_id, file, lineno, "movie id"))
        title, year = title.strip(), year.strip()
        if year == _RECBOLE_UNKNOWN:
            titles.append("unknown" if title == _RECBOLE_UNKNOWN else title)
        else:
            titles.append(f"{title} ({year})")
        flags = [False] * len(GENRES)
        # Genre names hold no spaces ("Children's", "Film-Noir", "Sci-Fi"), so split() is exact.
        for name in classes.split():
            if name not in genre_index:
                raise _error(file, lineno, f"unknown genre {name!r}", f"one of {', '.join(GENRES)}")
            flags[genre_index[name]] = True
        genres.append(flags)
    return _items(ids, titles, genres, file, 2)


def _parse_ratings(text: str, file: str, *, first_line: int) -> np.ndarray:
    """The `[n, 4]` int64 table (user id, movie id, rating, timestamp) of a tab-separated file.

    The fast path is numpy's C parser; only if it fails are the lines scanned one by one, to
    report the first bad line by number.
    """
    lines = _lines(text)
    if not lines:
        raise _error(file, None, "it has no ratings", f"one line per rating: {_UDATA_FIELDS}")
    try:
        table = np.loadtxt(
            lines, delimiter="\t", dtype=np.int64, comments=None, ndmin=2, encoding=None
        )
        if table.shape == (len(lines), 4):
            return table
        problem = f"numpy read a {table.shape} table from {len(lines)} lines"
    except ValueError as e:
        problem = str(e)
    _diagnose_ratings(lines, file, first_line)
    raise _error(file, None, f"it could not be parsed ({problem})", _UDATA_FIELDS)


def _diagnose_ratings(lines: list[str], file: str, first_line: int) -> None:
    names = ("user id", "movie id", "rating", "timestamp")
    for i, line in enumerate(lines):
        fields = _fields(line, "\t", 4, file, first_line + i, _UDATA_FIELDS)
        for name, value in zip(names, fields, strict=True):
            _whole_number(value, file, first_line + i, name)


def _lookup(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `wanted` in `ids` (unique), and a mask of which were found."""
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], wanted).clip(0, len(ids) - 1)
    return order[pos], ids[order][pos] == wanted


def bucketize_age(ages: np.ndarray) -> np.ndarray:
    """TFDS `bucketized_user_age`: `[n]` ages to the lower edge of their bucket in `AGE_BUCKETS`."""
    edges = np.array(AGE_BUCKETS, dtype=np.int64)
    return edges[np.searchsorted(edges[1:], ages, side="right")]


def _as_str(ints: np.ndarray) -> np.ndarray:
    return ints.astype(f"<U{len(str(int(ints.max(initial=0))))}")


def _assemble(
    table: np.ndarray,
    items: _Items,
    users: _Users,
    file: str,
    *,
    first_line: int,
    names: tuple[str, str],
) -> Ratings:
    """Join the ratings with the movie and user tables, vectorised, checking every reference."""
    users_name, items_name = names
    user_row, user_found = _lookup(users.ids, table[:, 0])
    movie_row, movie_found = _lookup(items.ids, table[:, 1])
    rating = table[:, 2]
    checks = (
        (~user_found, 0, f"user id {{}} is not in {users_name}", f"user ids from {users_name}"),
        (~movie_found, 1, f"movie id {{}} is not in {items_name}", f"movie ids from {items_name}"),
        ((rating < 1) | (rating > 5), 2, "rating {} is out of range", "a rating from 1 to 5"),
    )
    for bad, column, problem, expected in checks:
        if bad.any():
            row = int(np.argmax(bad))
            raise _error(file, first_line + row, problem.format(table[row, column]), expected)
    return Ratings(
        user_id=_as_str(users.ids)[user_row],
        movie_id=_as_str(items.ids)[movie_row],
        movie_title=items.titles[movie_row],
        user_rating=rating.astype(np.float32),
        timestamp=table[:, 3].copy(),
        movie_genres=items.genres[movie_row],
        user_gender=users.genders[user_row],
        bucketized_user_age=bucketize_age(users.ages)[user_row],
        user_occupation_text=users.occupations[user_row],
        user_zip_code=users.zips[user_row],
    )


def _counts(ratings: Ratings) -> dict[str, object]:
    def day(t: np.integer[Any]) -> str:
        return datetime.fromtimestamp(int(t), UTC).date().isoformat()

    stamps = ratings.timestamp
    return {
        "users": int(np.unique(ratings.user_id).size),
        "movies": int(np.unique(ratings.movie_id).size),
        "ratings": len(ratings),
        "titles": int(np.unique(ratings.movie_title).size),
        "first_rating": day(stamps.min()) if len(stamps) else None,
        "last_rating": day(stamps.max()) if len(stamps) else None,
    }


# --------------------------------------------------------------------------------------------
# Licence notice and the parsed cache


def _show_licence_once(cache: Path, notify: Notify) -> None:
    marker = cache / LICENCE_MARKER
    if marker.exists():
        return
    notify(LICENCE_NOTICE)
    atomic_write_text(marker, LICENCE_NOTICE + "\n")


def _write_parsed_cache(cache: Path, ratings: Ratings, fetched: Fetched) -> None:
    # pyarrow is imported here, not at the top, so importing reelrank (for `--help`) stays fast.
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {}
    for name, column in ratings.columns().items():
        if name in _STRING_COLUMNS:
            columns[name] = pa.array(column).dictionary_encode()
        elif name == "movie_genres":
            flat = pa.array(column.reshape(-1))
            columns[name] = pa.FixedSizeListArray.from_arrays(flat, len(GENRES))
        else:
            columns[name] = pa.array(column)
    parquet = cache / PARQUET_NAME
    with atomic_path(parquet) as tmp:
        pq.write_table(pa.table(columns), tmp)
    manifest = {
        "dataset": DATASET,
        "format_version": FORMAT_VERSION,
        "source": fetched.source,
        "raw_file": fetched.path.name,
        "raw_sha256": fetched.sha256,
        "parquet_sha256": sha256_file(parquet),
        **_counts(ratings),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # The manifest is written last: a parquet without a matching manifest is never trusted.
    atomic_write_text(cache / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")


def _read_parsed_cache(cache: Path, notify: Notify) -> Ratings | None:
    """The cached table, or None if there is none; an unusable cache is removed and reported."""
    parquet, manifest_path = cache / PARQUET_NAME, cache / MANIFEST_NAME
    if not parquet.exists() and not manifest_path.exists():
        return None
    try:
        return _load_parquet(parquet, manifest_path)
    # Deliberately broad: the cache is disposable, and anything wrong with it (I/O, JSON, Arrow,
    # shapes) must lead to a rebuild, never a crash.
    except Exception as e:
        notify(f"reelrank: the cached {PARQUET_NAME} in {cache} is unusable ({e}); rebuilding it.")
        with contextlib.suppress(OSError):  # a read-only cache: rebuilding in memory still works
            parquet.unlink(missing_ok=True)
            manifest_path.unlink(missing_ok=True)
        return None


def _load_parquet(parquet: Path, manifest_path: Path) -> Ratings:
    import pyarrow.parquet as pq

    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("dataset") != DATASET:
        raise ValueError(f"{MANIFEST_NAME} is for another format version or data set")
    if sha256_file(parquet) != manifest["parquet_sha256"]:
        raise ValueError(f"its sha256 does not match {MANIFEST_NAME}")
    table = pq.read_table(parquet, read_dictionary=list(_STRING_COLUMNS))
    if tuple(table.column_names) != RATING_FEATURES:
        raise ValueError(f"its columns are {table.column_names}, expected {RATING_FEATURES}")
    if table.num_rows != manifest["ratings"]:
        raise ValueError(
            f"it has {table.num_rows} rows, {MANIFEST_NAME} says {manifest['ratings']}"
        )
    columns: dict[str, np.ndarray] = {}
    for name in RATING_FEATURES:
        chunk = table.column(name).combine_chunks()
        if chunk.null_count:
            raise ValueError(f"column {name} has missing values")
        if name in _STRING_COLUMNS:
            words = chunk.dictionary.to_numpy(zero_copy_only=False).astype(str)
            columns[name] = words[chunk.indices.to_numpy()]
        elif name == "movie_genres":
            flat = chunk.flatten().to_numpy(zero_copy_only=False)
            columns[name] = flat.astype(bool).reshape(-1, len(GENRES))
        else:
            columns[name] = chunk.to_numpy()
    columns["user_rating"] = columns["user_rating"].astype(np.float32, copy=False)
    columns["timestamp"] = columns["timestamp"].astype(np.int64, copy=False)
    columns["bucketized_user_age"] = columns["bucketized_user_age"].astype(np.int64, copy=False)
    return Ratings(**columns)
