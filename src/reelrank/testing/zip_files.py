"""Writers for tests and benchmarks: arrays as a GroupLens MovieLens data set (1M and later), in
the real layout of `reelrank.data.movielens.zips.datasets.DATASETS[name]`, folder or zip.

`dataset_files(name, tables)` gives the files' bytes (`ratings`, `movies`, ml-1m's `users`, and
a tags file that the loaders must ignore); `write_dataset_folder` / `write_dataset_zip` put them
on disk (a test edits the bytes in between to make a file malformed). Ratings are written
vectorised (pyarrow), so `synthetic_tables` at MovieLens 25M's size writes in seconds.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from reelrank.data.movielens.zips.datasets import DatasetSpec, dataset_spec
from reelrank.data.movielens.zips.tables import OCCUPATIONS

__all__ = [
    "GroupLensTables",
    "dataset_files",
    "dataset_zip_bytes",
    "synthetic_tables",
    "write_dataset_folder",
    "write_dataset_zip",
]


@dataclass(frozen=True, eq=False)
class GroupLensTables:
    """A data set's contents as arrays, ids as the files hold them.

    Ratings, in file order: `user`, `movie` `[n]` int, `rating` `[n]` float stars, `timestamp`
    `[n]` int. Movies: `movie_id` `[m]` int, `title` `[m]` str, `genres` `[m]` str, `|`-joined
    as GroupLens spells them. Users (ml-1m only): `user_id` `[u]` int, `gender` `[u]` str,
    `age` `[u]` int (an age group), `occupation` `[u]` int code, `zip_code` `[u]` str.
    """

    user: np.ndarray
    movie: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    movie_id: np.ndarray
    title: np.ndarray
    genres: np.ndarray
    user_id: np.ndarray | None = None
    gender: np.ndarray | None = None
    age: np.ndarray | None = None
    occupation: np.ndarray | None = None
    zip_code: np.ndarray | None = None


def _star_text(value: float, layout: str) -> str:
    """A rating as GroupLens writes it: `5` / `4.5` in `.dat` files, `4.0` / `4.5` in CSV."""
    if layout == "csv" and float(value).is_integer():
        return f"{value:.1f}"
    return f"{value:g}"


def ratings_bytes(spec: DatasetSpec, tables: GroupLensTables) -> bytes:
    """The ratings file of `spec`'s layout; one pyarrow pass, no Python object per row."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    values, index = np.unique(np.asarray(tables.rating, dtype=np.float64), return_inverse=True)
    labels = pa.array([_star_text(v, spec.format) for v in values], pa.string())
    stars = pc.take(labels, pa.array(index.astype(np.int64)))

    def text(column: np.ndarray) -> pa.Array:
        return pc.cast(pa.array(np.asarray(column, dtype=np.int64)), pa.string())

    sep = "::" if spec.format == "dat" else ","
    line = pc.binary_join_element_wise(
        text(tables.user), text(tables.movie), stars, text(tables.timestamp), sep
    )
    out = io.BytesIO()
    if spec.format == "csv":
        out.write(b"userId,movieId,rating,timestamp\n")
    if len(line):
        # Written as one tab-separated column: no value holds a tab, so nothing is quoted.
        options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
        pacsv.write_csv(pa.table({"line": line}), out, write_options=options)
    return out.getvalue()


def movies_bytes(spec: DatasetSpec, tables: GroupLensTables) -> bytes:
    """`movies.dat` (`MovieID::Title::Genres`) or `movies.csv` (header; commas quoted)."""
    rows = zip(tables.movie_id.tolist(), tables.title.tolist(), tables.genres.tolist(), strict=True)
    if spec.format == "dat":
        text = "".join(f"{m}::{t}::{g}\n" for m, t, g in rows)
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["movieId", "title", "genres"])
        writer.writerows(rows)
        text = out.getvalue()
    return text.encode(spec.movies_encoding)


def users_bytes(tables: GroupLensTables) -> bytes:
    """ml-1m's `users.dat`: `UserID::Gender::Age::Occupation::Zip-code` per line."""
    if tables.user_id is None or tables.gender is None or tables.age is None:
        raise ValueError("ml-1m needs user_id, gender, age, occupation and zip_code")
    if tables.occupation is None or tables.zip_code is None:
        raise ValueError("ml-1m needs user_id, gender, age, occupation and zip_code")
    rows = zip(
        tables.user_id.tolist(),
        tables.gender.tolist(),
        tables.age.tolist(),
        tables.occupation.tolist(),
        tables.zip_code.tolist(),
        strict=True,
    )
    return "".join(f"{u}::{g}::{a}::{o}::{z}\n" for u, g, a, o, z in rows).encode("latin-1")


def dataset_files(name: str, tables: GroupLensTables) -> dict[str, bytes]:
    """The files of data set `name` holding `tables`, by name inside the data set's folder."""
    spec = dataset_spec(name)
    files = {
        spec.ratings_file: ratings_bytes(spec, tables),
        spec.movies_file: movies_bytes(spec, tables),
    }
    if spec.has_users:
        files["users.dat"] = users_bytes(tables)
    if spec.format == "dat":
        files["tags.dat"] = b"15::4973::excellent!::1215184630\n"
    else:
        files["tags.csv"] = b"userId,movieId,tag,timestamp\n15,4973,excellent!,1215184630\n"
    return files


def write_dataset_folder(name: str, files: Mapping[str, bytes], parent: str | Path) -> Path:
    """Write `files` into `parent/<the data set's folder>` (e.g. `ml-10M100K`); returns it."""
    folder = Path(parent) / dataset_spec(name).folder
    folder.mkdir(parents=True, exist_ok=True)
    for file, data in files.items():
        (folder / file).write_bytes(data)
    return folder


def dataset_zip_bytes(name: str, files: Mapping[str, bytes]) -> bytes:
    """A zip like GroupLens': `files` under the data set's folder, the same bytes every call."""
    folder = dataset_spec(name).folder
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(f"{folder}/", date_time=(2019, 11, 21, 0, 0, 0)), b"")
        for file, data in files.items():
            info = zipfile.ZipInfo(f"{folder}/{file}", date_time=(2019, 11, 21, 0, 0, 0))
            z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return buffer.getvalue()


def write_dataset_zip(name: str, files: Mapping[str, bytes], parent: str | Path) -> Path:
    """Write `parent/<name>.zip` holding `files`; returns its path."""
    path = Path(parent) / dataset_spec(name).zip_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dataset_zip_bytes(name, files))
    return path


def synthetic_tables(
    name: str, *, n_ratings: int, n_users: int, n_movies: int, seed: int = 0
) -> GroupLensTables:
    """Random tables in `name`'s rating scale: each (user, movie) pair at most once, ids with
    gaps as in MovieLens, every movie titled and given genres. For benchmarks and speed checks;
    needs `n_ratings <= n_users * n_movies`."""
    spec = dataset_spec(name)
    if n_ratings > n_users * n_movies:
        raise ValueError("n_ratings must be at most n_users * n_movies")
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_movies, size=n_ratings, replace=False)
    user_ids = np.arange(1, n_users + 1, dtype=np.int64)
    movie_ids = np.arange(1, n_movies + 1, dtype=np.int64) * 3  # gaps, as in MovieLens
    stars = np.arange(1, 6) if spec.whole_stars else np.arange(1, 11) / 2
    # ml-1m spells genres as MovieLens 100k does; the later sets say "Children" and add IMAX.
    old_names = ["Comedy", "Drama|Romance", "Action|Sci-Fi", "Children's|Animation", "Crime"]
    new_names = ["Comedy", "Drama|Romance", "Action|Sci-Fi|IMAX", "Children|Animation", "Crime"]
    genre_names = np.array(old_names if spec.has_users else new_names)
    tables = GroupLensTables(
        user=user_ids[pairs // n_movies],
        movie=movie_ids[pairs % n_movies],
        rating=rng.choice(stars, size=n_ratings).astype(np.float32),
        timestamp=rng.integers(789_652_009, 1_700_000_000, size=n_ratings),
        movie_id=movie_ids,
        title=np.char.add(np.char.add("Movie ", movie_ids.astype(str)), ", The (1999)"),
        genres=genre_names[np.arange(n_movies) % len(genre_names)],
    )
    if not spec.has_users:
        return tables
    ages = np.array([1, 18, 25, 35, 45, 50, 56])
    return replace(
        tables,
        user_id=user_ids,
        gender=np.where(user_ids % 2 == 0, "F", "M"),
        age=ages[user_ids % len(ages)],
        occupation=user_ids % len(OCCUPATIONS),
        zip_code=np.char.zfill((user_ids * 7919 % 100_000).astype(str), 5),
    )
