"""MovieLens 1M to 32M and latest-small: each read from tiny files in its real layout (zip,
folder, parent folder); malformed files refused naming file and line; downloads verified."""

from __future__ import annotations

import hashlib
import re
import urllib.error
import zipfile
from dataclasses import replace
from email.message import Message
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest

from reelrank.data import bad_rows
from reelrank.data.fetch.sources import Downloader
from reelrank.data.interactions import Interactions, encode_ids
from reelrank.data.movielens.zips import ratings as grouplens_ratings
from reelrank.data.movielens.zips.datasets import (
    DATASETS,
    licence_notice,
    load_grouplens_dataset,
    read_grouplens_dataset,
)
from reelrank.data.movielens.zips.download import fetch_grouplens_dataset, parse_md5
from reelrank.data.movielens.zips.tables import OCCUPATIONS, encode_int_ids
from reelrank.errors import DataError, ReelrankError
from reelrank.testing.zip_files import (
    GroupLensTables,
    dataset_files,
    dataset_zip_bytes,
    synthetic_tables,
    write_dataset_folder,
    write_dataset_zip,
)
from reelrank.types import GENRES

NAMES = list(DATASETS)
DAT = [n for n in NAMES if DATASETS[n].format == "dat"]
CSV = [n for n in NAMES if DATASETS[n].format == "csv"]

# (movie id, title, genres as ml-10m on spell them, genres as ml-1m spells them)
MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy", "Animation|Children's|Comedy"),
    (2, "Star Wars: Episode IV - A New Hope (1977)", "Action|Sci-Fi", "Action|Sci-Fi"),
    (10, "American President, The (1995)", "Comedy|Drama|Romance", "Comedy|Drama|Romance"),
    (11, '"Great Performances" Cats (1998)', "Musical", "Musical"),
    (12, "Misérables, Les (1995)", "Drama|War", "Drama|War"),
    (13, "Dark Knight, The (2008)", "Action|Crime|IMAX", "Action|Crime"),
    (14, "Ghosts: Of the Abyss (2003)", "(no genres listed)", "Documentary"),
    (99, "Never Rated (2000)", "Western", "Western"),
]
# (user id, gender, age group, occupation code, zip code): ml-1m's users.dat
USERS = [(1, "F", 1, 10, "48067"), (2, "M", 56, 16, "70072"), (10, "M", 25, 20, "95370-123")]
USERS.append((5, "F", 45, 0, "02139"))
# (user, movie, stars, time) in file order, not sorted; ml-1m rounds the half stars up
RATINGS = [
    (10, 2, 4.5, 978300760),
    (1, 1, 5.0, 978302109),
    (2, 10, 3.0, 978301968),
    (1, 12, 0.5, 978300275),
    (5, 11, 2.5, 978824291),
    (2, 13, 4.0, 978302268),
    (10, 1, 1.0, 978300719),
    (5, 14, 3.5, 978302039),
    (1, 2, 2.0, 978300055),
]
BAD_LINE = 3  # the ratings row edited by the malformed-file tests (a data line, not the header)


def tables(name: str, ratings: list[tuple[int, int, float, int]] = RATINGS) -> GroupLensTables:
    spec = DATASETS[name]
    old_genres = spec.has_users
    users = {}
    if spec.has_users:
        uid, gender, age, occupation, zip_code = (np.array(c) for c in zip(*USERS, strict=True))
        users = dict(user_id=uid, gender=gender, age=age, occupation=occupation, zip_code=zip_code)
    user, movie, stars, time = (np.array(c) for c in zip(*ratings, strict=True))
    return GroupLensTables(
        user=user,
        movie=movie,
        rating=np.ceil(stars) if spec.whole_stars else stars,
        timestamp=time,
        movie_id=np.array([m[0] for m in MOVIES]),
        title=np.array([m[1] for m in MOVIES]),
        genres=np.array([m[3] if old_genres else m[2] for m in MOVIES]),
        **users,
    )


def files(name: str) -> dict[str, bytes]:
    return dataset_files(name, tables(name))


def zip_of(tmp_path: Path, name: str, members: dict[str, bytes]) -> Path:
    return write_dataset_zip(name, members, tmp_path)


def member(name: str, file: str) -> str:
    return f"{DATASETS[name].folder}/{file}"


def line_of_row(name: str, row: int) -> int:
    """The line number of ratings row `row` (1-based): CSV files have a header line."""
    return row + (1 if DATASETS[name].format == "csv" else 0)


def edit_line(data: bytes, lineno: int, new: str) -> bytes:
    lines = data.split(b"\n")  # bytes: ml-1m's movies.dat is Latin-1
    lines[lineno - 1] = new.encode("ascii")
    return b"\n".join(lines)


def genre_set(flags: np.ndarray) -> set[str]:
    return {g for g, on in zip(GENRES, flags, strict=True) if on}


# ---------------------------------------------------------------- reading every data set


def check_tiny(data: Interactions, name: str) -> None:
    spec = DATASETS[name]
    assert data.user_ids.tolist() == ["1", "10", "2", "5"]  # sorted as strings
    assert data.movies.movie_id.tolist() == ["1", "10", "11", "12", "13", "14", "2"]  # 99 unrated
    assert data.user.dtype == data.movie.dtype == np.int32
    assert data.rating.dtype == np.float32 and data.timestamp.dtype == np.int64
    assert data.user_ids[data.user].tolist() == [str(r[0]) for r in RATINGS]  # file order
    assert data.movies.movie_id[data.movie].tolist() == [str(r[1]) for r in RATINGS]
    stars = [float(np.ceil(r[2])) if spec.whole_stars else r[2] for r in RATINGS]
    assert data.rating.tolist() == stars
    assert data.timestamp.tolist() == [r[3] for r in RATINGS]
    titles = dict(zip(data.movies.movie_id.tolist(), data.movies.title.tolist(), strict=True))
    assert titles["10"] == "American President, The (1995)"
    assert titles["2"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert titles["11"] == '"Great Performances" Cats (1998)'
    assert titles["12"] == "Misérables, Les (1995)"
    genres = {
        m: genre_set(g) for m, g in zip(data.movies.movie_id, data.movies.genres, strict=True)
    }
    assert genres["1"] == (
        {"Animation", "Children's", "Comedy"}
        if spec.has_users
        else {"Adventure", "Animation", "Children's", "Comedy"}
    )
    assert genres["13"] == {"Action", "Crime"}  # IMAX has no column
    assert genres["14"] == ({"Documentary"} if spec.has_users else {"unknown"})
    assert data.explicit and data.timed
    if not spec.has_users:
        assert data.users is None
        return
    assert data.users is not None
    assert data.users.gender.tolist() == ["F", "M", "M", "F"]  # users 1, 10, 2, 5
    assert data.users.age.tolist() == [1, 25, 56, 45]
    assert data.users.age.dtype == np.int64
    occupations = ["K-12 student", "writer", "self-employed", "other or not specified"]
    assert data.users.occupation.tolist() == occupations
    assert data.users.zip_code.tolist() == ["48067", "95370-123", "70072", "02139"]


@pytest.mark.parametrize("name", NAMES)
def test_each_data_set_reads_from_its_zip_folder_and_parent(tmp_path: Path, name: str) -> None:
    members = files(name)
    archive = zip_of(tmp_path / "zip", name, members)
    folder = write_dataset_folder(name, members, tmp_path / "unzipped")
    assert zipfile.ZipFile(archive).namelist()[1].startswith(f"{DATASETS[name].folder}/")
    read = [
        read_grouplens_dataset(name, path)
        for path in (archive, folder, folder.parent, folder / DATASETS[name].ratings_file)
    ]
    for data in read:
        check_tiny(data, name)
    assert len({data.fingerprint() for data in read}) == 1


def test_the_10m_zip_unpacks_to_its_own_folder_name(tmp_path: Path) -> None:
    assert DATASETS["ml-10m"].folder == "ml-10M100K"
    names = zipfile.ZipFile(zip_of(tmp_path, "ml-10m", files("ml-10m"))).namelist()
    assert "ml-10M100K/ratings.dat" in names and "ml-10M100K/tags.dat" in names


def test_ml_1m_movies_are_latin_1_and_windows_line_ends_are_read(tmp_path: Path) -> None:
    members = files("ml-1m")
    assert "Misérables".encode("latin-1") in members["movies.dat"]
    members = {k: v.replace(b"\n", b"\r\n") for k, v in members.items()}
    check_tiny(read_grouplens_dataset("ml-1m", zip_of(tmp_path, "ml-1m", members)), "ml-1m")


def test_the_registry_names_each_official_zip() -> None:
    assert NAMES == ["ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m", "ml-latest-small"]
    for name, spec in DATASETS.items():
        assert spec.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert (spec.sha256 is None) != (spec.md5_url is None)
    assert DATASETS["ml-1m"].sha256 == (
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"
    )
    assert DATASETS["ml-25m"].sha256 is not None and DATASETS["ml-25m"].sha256.startswith(
        "8b21cfb7"
    )
    assert (
        DATASETS["ml-32m"].md5_url
        == "https://files.grouplens.org/datasets/movielens/ml-32m.zip.md5"
    )


def test_an_unknown_data_set_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ReelrankError, match=r"unknown data set 'ml-5m'; choose one of ml-1m, "):
        load_grouplens_dataset("ml-5m", tmp_path)


def test_fast_int_encoding_matches_encode_ids() -> None:
    rng = np.random.default_rng(0)
    for values in (
        rng.integers(0, 300, size=1000),
        np.array([5, 10**12, 7, 5]),  # too sparse for a lookup table: falls back
        np.array([0]),
    ):
        ids, codes = encode_int_ids(values)
        want_ids, want_codes = encode_ids(values)
        assert ids.tolist() == want_ids.tolist() and codes.tolist() == want_codes.tolist()
        assert codes.dtype == np.int32


# ---------------------------------------------------------------- malformed files


def ratings_error(tmp_path: Path, name: str, new_line: str) -> str:
    members = files(name)
    ratings = DATASETS[name].ratings_file
    lineno = line_of_row(name, BAD_LINE)
    members[ratings] = edit_line(members[ratings], lineno, new_line)
    archive = zip_of(tmp_path, name, members)
    with pytest.raises(DataError) as error:
        read_grouplens_dataset(name, archive)
    message = str(error.value)
    assert message.startswith(f"{archive}:{member(name, ratings)}, line {lineno}: "), message
    return message


def row(name: str, *fields: object) -> str:
    return ("::" if DATASETS[name].format == "dat" else ",").join(map(str, fields))


@pytest.mark.parametrize("name", NAMES)
def test_a_line_with_the_wrong_number_of_fields_is_named(tmp_path: Path, name: str) -> None:
    message = ratings_error(tmp_path, name, row(name, 2, 10, 3))
    assert "found 3 fields; expected 4" in message


@pytest.mark.parametrize("name", DAT)
def test_something_between_the_colons_is_refused(tmp_path: Path, name: str) -> None:
    assert "found 3 fields" in ratings_error(tmp_path, name, "2:x:10::3::978301968")


@pytest.mark.parametrize("name", NAMES)
def test_a_rating_that_is_not_a_number_is_named(tmp_path: Path, name: str) -> None:
    message = ratings_error(tmp_path, name, row(name, 2, 10, "three", 978301968))
    assert "rating is 'three'; expected a number of stars" in message


@pytest.mark.parametrize(
    ("name", "stars", "expected"),
    [
        ("ml-1m", "4.5", "whole stars from 1 to 5"),
        ("ml-1m", "0", "whole stars from 1 to 5"),
        ("ml-10m", "7", "stars from 0.5 to 5 in half stars"),
        ("ml-20m", "3.25", "stars from 0.5 to 5 in half stars"),
        ("ml-25m", "0.0", "stars from 0.5 to 5 in half stars"),
        ("ml-32m", "nan", "stars from 0.5 to 5 in half stars"),
    ],
)
def test_a_rating_out_of_range_is_named(
    tmp_path: Path, name: str, stars: str, expected: str
) -> None:
    message = ratings_error(tmp_path, name, row(name, 2, 10, stars, 978301968))
    assert f"rating is {float(stars):g}; expected a rating in {expected}" in message


@pytest.mark.parametrize("name", ["ml-1m", "ml-latest-small"])
def test_an_empty_line_or_field_is_named(tmp_path: Path, name: str) -> None:
    assert "the line is empty" in ratings_error(tmp_path, name, "")
    assert "the timestamp field is empty" in ratings_error(tmp_path, name, row(name, 2, 10, 3, ""))


@pytest.mark.parametrize("name", ["ml-10m", "ml-20m"])
def test_a_negative_or_fractional_id_is_named(tmp_path: Path, name: str) -> None:
    assert "user id is -2" in ratings_error(tmp_path, name, row(name, -2, 10, 3, 978301968))
    message = ratings_error(tmp_path, name, row(name, 2, "10.5", 3, 978301968))
    assert "movie id is '10.5'; expected movie id to be a whole number" in message


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_movies_file_is_named(tmp_path: Path, name: str) -> None:
    members = files(name)
    movies = DATASETS[name].movies_file
    del members[movies]
    with pytest.raises(DataError, match=rf"has no {member(name, movies)}; expected the unzipped"):
        read_grouplens_dataset(name, zip_of(tmp_path, name, members))
    folder = write_dataset_folder(name, members, tmp_path / "unzipped")
    with pytest.raises(DataError, match=rf"{folder / movies}: cannot read it"):
        read_grouplens_dataset(name, folder)


@pytest.mark.parametrize("name", ["ml-1m", "ml-20m"])
def test_a_missing_ratings_file_is_named(tmp_path: Path, name: str) -> None:
    members = files(name)
    del members[DATASETS[name].ratings_file]
    with pytest.raises(DataError, match=rf"has no {member(name, DATASETS[name].ratings_file)}"):
        read_grouplens_dataset(name, zip_of(tmp_path, name, members))


@pytest.mark.parametrize("name", NAMES)
def test_a_rating_of_an_unknown_movie_is_refused_or_skipped(tmp_path: Path, name: str) -> None:
    ratings = list(RATINGS)
    ratings[BAD_LINE - 1] = (2, 777, 3.0, 978301968)
    path = zip_of(tmp_path, name, dataset_files(name, tables(name, ratings)))
    lineno = line_of_row(name, BAD_LINE)
    movies = DATASETS[name].movies_file
    with pytest.raises(
        DataError, match=rf", line {lineno}: movie id 777 is not in {movies}; expected movie ids"
    ):
        read_grouplens_dataset(name, path)
    said: list[str] = []
    data = read_grouplens_dataset(name, path, on_bad_rows="skip", notify=said.append)
    assert len(data) == len(RATINGS) - 1 and "777" not in data.movies.movie_id
    assert f"1 rating(s) name a movie not in {movies} (first: line {lineno}" in said[0]
    # user 2's only other rating remains; movie 10 had only this rating, so it is gone
    assert "10" not in data.movies.movie_id.tolist()
    assert data.movies.movie_id[data.movie].tolist().count("13") == 1


def test_an_ml_1m_rating_of_an_unknown_user_is_refused(tmp_path: Path) -> None:
    ratings = list(RATINGS)
    ratings[BAD_LINE - 1] = (42, 10, 3.0, 978301968)
    path = zip_of(tmp_path, "ml-1m", dataset_files("ml-1m", tables("ml-1m", ratings)))
    with pytest.raises(DataError, match=r"ratings.dat, line 3: user id 42 is not in users.dat"):
        read_grouplens_dataset("ml-1m", path)
    data = read_grouplens_dataset("ml-1m", path, on_bad_rows="skip", notify=lambda _: None)
    assert data.users is not None and len(data.users.gender) == len(data.user_ids) == 4


@pytest.mark.parametrize("name", ["ml-1m", "ml-10m", "ml-25m"])
def test_a_repeated_pair_is_refused_skipped_or_kept_last(tmp_path: Path, name: str) -> None:
    ratings = [*RATINGS, (1, 1, 2.0, 978302109 + 50), (1, 1, 3.0, 978302109 - 50)]
    path = zip_of(tmp_path, name, dataset_files(name, tables(name, ratings)))
    first, again = line_of_row(name, 2), line_of_row(name, len(RATINGS) + 1)
    with pytest.raises(DataError) as error:
        read_grouplens_dataset(name, path)
    assert "2 rating(s) repeat a user and movie already rated" in str(error.value)
    assert f"line {again}, user 1 and movie 1 as on line {first}" in str(error.value)
    said: list[str] = []
    skipped = read_grouplens_dataset(name, path, on_bad_rows="skip", notify=said.append)
    latest = read_grouplens_dataset(name, path, on_bad_rows="keep-last", notify=said.append)
    for data, stars in ((skipped, 5.0), (latest, 2.0)):
        assert len(data) == len(RATINGS)
        pair = (data.user_ids[data.user] == "1") & (data.movies.movie_id[data.movie] == "1")
        assert data.rating[pair].tolist() == [stars]
    assert "kept 9 of 11 rows (--on-bad-rows skip)" in said[0]


@pytest.mark.parametrize("name", ["ml-10m", "ml-latest-small"])
def test_an_implausible_time_is_refused(tmp_path: Path, name: str) -> None:
    message_for = row(name, 2, 10, 3, 10**17)
    members = files(name)
    ratings = DATASETS[name].ratings_file
    members[ratings] = edit_line(members[ratings], line_of_row(name, BAD_LINE), message_for)
    with pytest.raises(DataError, match=r"1 timestamp\(s\) outside .* first: line \d+, 10{17}"):
        read_grouplens_dataset(name, zip_of(tmp_path, name, members))


@pytest.mark.parametrize("name", CSV)
@pytest.mark.parametrize("which", ["ratings", "movies"])
def test_a_bad_csv_header_is_named(tmp_path: Path, name: str, which: str) -> None:
    members = files(name)
    file = f"{which}.csv"
    header, rest = members[file].split(b"\n", 1)
    members[file] = header.replace(b"Id", b"_id") + b"\n" + rest
    with pytest.raises(DataError) as error:
        read_grouplens_dataset(name, zip_of(tmp_path, name, members))
    assert f"{member(name, file)}, line 1: the header is " in str(error.value)
    assert f"expected '{header.decode()}'." in str(error.value)


@pytest.mark.parametrize(
    ("name", "line", "problem"),
    [
        ("ml-1m", "3::Title (1995)", "found 2 fields; expected 3 '::'-separated"),
        ("ml-10m", "3::Title (1995)::Film Noir", "genre 'Film Noir' is unknown"),
        ("ml-20m", '3,"Title, The (1995),Drama', "the quoting is broken"),
        ("ml-25m", "3,Title, The (1995),Drama", "found 4 fields; expected 3"),
        ("ml-32m", "x3,Title (1995),Drama", "movie id is 'x3'"),
        ("ml-latest-small", "10,Again (1995),Drama", "movie id 10 appears again (first on line 4)"),
    ],
)
def test_a_bad_movies_line_is_named(tmp_path: Path, name: str, line: str, problem: str) -> None:
    members = files(name)
    movies = DATASETS[name].movies_file
    lineno = 5 if name == "ml-latest-small" else 3  # line 5: after movie 10's own line
    members[movies] = edit_line(members[movies], lineno, line)
    archive = zip_of(tmp_path, name, members)
    with pytest.raises(DataError) as error:
        read_grouplens_dataset(name, archive)
    assert str(error.value).startswith(f"{archive}:{member(name, movies)}, line {lineno}: ")
    assert problem in str(error.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("2::M::30::16::70072", "age is 30; expected an age group: 1, 18, 25, 35, 45, 50, 56"),
        ("2::M::56::21::70072", "occupation is 21; expected a code 0..20"),
        ("2::X::56::16::70072", "gender is 'X'"),
        ("2::M::56::16", "found 4 fields; expected 5 '::'-separated"),
        ("1::M::56::16::70072", "user id 1 appears again (first on line 1)"),
    ],
)
def test_a_bad_ml_1m_user_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    members = files("ml-1m")
    members["users.dat"] = edit_line(members["users.dat"], 2, line)
    with pytest.raises(DataError, match=re.escape(f"users.dat, line 2: {problem}")):
        read_grouplens_dataset("ml-1m", zip_of(tmp_path, "ml-1m", members))


def test_every_occupation_code_has_its_readme_name() -> None:
    assert len(OCCUPATIONS) == 21
    assert OCCUPATIONS[0] == "other or not specified" and OCCUPATIONS[20] == "writer"
    assert OCCUPATIONS[10] == "K-12 student" and OCCUPATIONS[17] == "technician/engineer"


def test_a_truncated_or_corrupt_zip_is_refused(tmp_path: Path) -> None:
    data = dataset_zip_bytes("ml-20m", files("ml-20m"))
    truncated = tmp_path / "ml-20m.zip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"{truncated}: not a readable zip file"):
        read_grouplens_dataset("ml-20m", truncated)
    # Same length, one digit changed inside the stored ratings: only the CRC can tell.
    members = files("ml-20m")
    corrupt = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(corrupt, "w", zipfile.ZIP_STORED) as z:
        for file, body in members.items():
            z.writestr(f"ml-20m/{file}", body)
    raw = corrupt.read_bytes()
    at = raw.index(b"978300760")
    corrupt.write_bytes(raw[:at] + b"8" + raw[at + 1 :])
    with pytest.raises(DataError, match=r"ratings.csv: cannot be read to the end .*Bad CRC-32"):
        read_grouplens_dataset("ml-20m", corrupt)


def test_a_path_that_is_not_a_data_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no such file or folder; expected the unzipped MovieL"):
        read_grouplens_dataset("ml-25m", tmp_path / "nowhere")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(DataError, match=r"notes.txt: not a folder or a .zip file"):
        read_grouplens_dataset("ml-25m", other)
    with pytest.raises(DataError, match=r"holds neither ratings.csv nor ml-25m/ratings.csv; exp"):
        read_grouplens_dataset("ml-25m", tmp_path)


# ---------------------------------------------------------------- downloads


def serve(content: dict[str, bytes], calls: list[str]) -> Downloader:
    def download(url: str, dest: BinaryIO, timeout_s: float) -> None:
        calls.append(url)
        if url not in content:
            raise urllib.error.HTTPError(url, 404, "Not Found", Message(), None)
        dest.write(content[url])

    return download


def unreachable(url: str, dest: BinaryIO, timeout_s: float) -> None:
    dest.write(b"PK\x03\x04 partial")
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


@pytest.mark.parametrize(
    ("name", "form"), [("ml-10m", "MD5 ({}) = {}\n"), ("ml-32m", "{1}  {0}\n")]
)
def test_an_md5_checked_download_is_cached_and_the_licence_shown_once(
    tmp_path: Path, name: str, form: str
) -> None:
    spec = DATASETS[name]
    assert spec.md5_url is not None
    body = dataset_zip_bytes(name, files(name))
    md5 = hashlib.md5(body).hexdigest()
    calls: list[str] = []
    download = serve(
        {spec.md5_url: form.format(spec.zip_name, md5).encode(), spec.url: body}, calls
    )
    said: list[str] = []
    cache = tmp_path / "cache"
    first = load_grouplens_dataset(name, cache_dir=cache, notify=said.append, download=download)
    check_tiny(first, name)
    assert calls == [spec.md5_url, spec.url]
    assert cache_files(cache) == [f"{name}.licence-shown", spec.zip_name, f"{spec.zip_name}.md5"]
    again = load_grouplens_dataset(name, cache_dir=cache, notify=said.append, download=download)
    assert again.fingerprint() == first.fingerprint()
    assert calls == [spec.md5_url, spec.url]  # no second download
    notices = [s for s in said if "research purposes only" in s]
    assert notices == [licence_notice(spec)]
    assert spec.title in notices[0] and "Harper and Joseph A. Konstan" in notices[0]


def test_an_md5_mismatch_is_discarded_with_a_clear_message(tmp_path: Path) -> None:
    spec = DATASETS["ml-10m"]
    assert spec.md5_url is not None
    body = dataset_zip_bytes("ml-10m", files("ml-10m"))
    digest = hashlib.md5(body).hexdigest()
    calls: list[str] = []
    download = serve({spec.md5_url: f"{digest}  ml-10m.zip".encode(), spec.url: body[:-9]}, calls)
    with pytest.raises(DataError) as error:
        load_grouplens_dataset(
            "ml-10m", cache_dir=tmp_path, notify=lambda _: None, download=download
        )
    message = str(error.value)
    assert f"has md5 {hashlib.md5(body[:-9]).hexdigest()}, expected {digest}" in message
    assert "truncated or altered download, so it was discarded" in message
    assert "To supply it by hand, download ml-10m.zip from https://grouplens.org/" in message
    assert cache_files(tmp_path) == []


def test_a_zip_put_in_the_cache_by_hand_is_checked_not_downloaded_again(tmp_path: Path) -> None:
    spec = DATASETS["ml-32m"]
    assert spec.md5_url is not None
    body = dataset_zip_bytes("ml-32m", files("ml-32m"))
    (tmp_path / "ml-32m.zip").write_bytes(body)
    calls: list[str] = []
    download = serve({spec.md5_url: hashlib.md5(body).hexdigest().encode()}, calls)
    path = fetch_grouplens_dataset(spec, tmp_path, download=download, notify=lambda _: None)
    assert path == tmp_path / "ml-32m.zip" and calls == [spec.md5_url]
    # A cached zip that no longer matches its kept md5 is removed, not trusted.
    path.write_bytes(body + b"x")
    with pytest.raises(DataError, match=r"HTTP 404"):
        fetch_grouplens_dataset(spec, tmp_path, download=serve({}, calls), notify=lambda _: None)
    assert not path.exists()


@pytest.mark.parametrize("name", ["ml-1m", "ml-20m", "ml-25m", "ml-latest-small"])
def test_a_download_without_the_pinned_sha256_is_discarded(tmp_path: Path, name: str) -> None:
    spec = DATASETS[name]
    body = dataset_zip_bytes(name, files(name))
    download = serve({spec.url: body}, [])
    with pytest.raises(DataError) as error:
        load_grouplens_dataset(name, cache_dir=tmp_path, notify=lambda _: None, download=download)
    message = str(error.value)
    assert f"Could not get {spec.title} from {spec.url}:" in message
    assert f"has sha256 {hashlib.sha256(body).hexdigest()}, expected {spec.sha256}" in message
    assert cache_files(tmp_path) == []


def test_a_sha256_pinned_download_is_cached(tmp_path: Path) -> None:
    body = dataset_zip_bytes("ml-1m", files("ml-1m"))
    spec = replace(DATASETS["ml-1m"], sha256=hashlib.sha256(body).hexdigest())
    calls: list[str] = []
    said: list[str] = []
    path = fetch_grouplens_dataset(
        spec, tmp_path, download=serve({spec.url: body}, calls), notify=said.append
    )
    assert path.read_bytes() == body and cache_files(tmp_path) == ["ml-1m.zip"]
    assert fetch_grouplens_dataset(spec, tmp_path, download=unreachable) == path
    assert calls == [spec.url] and said == [
        f"reelrank: downloading MovieLens 1M from {spec.url} ..."
    ]
    check_tiny(read_grouplens_dataset("ml-1m", path), "ml-1m")


def test_an_unreachable_host_says_how_to_supply_the_zip(tmp_path: Path) -> None:
    for name in ("ml-25m", "ml-10m"):
        with pytest.raises(DataError) as error:
            load_grouplens_dataset(
                name, cache_dir=tmp_path, notify=lambda _: None, download=unreachable
            )
        message = str(error.value)
        assert "network error: [Errno -2] Name or service not known" in message
        assert f"put {name}.zip into the cache directory {tmp_path}" in message
    assert cache_files(tmp_path) == []


@pytest.mark.parametrize(
    "text",
    [
        "MD5 (ml-10m.zip) = ce571fd55effeba0271552578f2648bd",
        "MD5 (ml-10m.zip) = CE571FD55EFFEBA0271552578F2648BD\n",
        "ce571fd55effeba0271552578f2648bd  ml-10m.zip\n",
        "ce571fd55effeba0271552578f2648bd *ml-10m.zip",
        "\nce571fd55effeba0271552578f2648bd\n",
    ],
)
def test_both_md5_file_forms_are_read(text: str) -> None:
    assert parse_md5(text, "ml-10m.zip", "x.md5") == "ce571fd55effeba0271552578f2648bd"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<html>Not Found</html>", "is not an md5 checksum line"),
        ("ce571fd55effeba0271552578f2648bd  ml-20m.zip", "the md5 is for 'ml-20m.zip'"),
        ("MD5 (ml-20m.zip) = ce571fd55effeba0271552578f2648bd", "the md5 is for 'ml-20m.zip'"),
        ("ce571fd55effeba0271552578f2648", "is not an md5 checksum line"),
        ("", "is not an md5 checksum line"),
    ],
)
def test_a_bad_md5_file_is_refused(text: str, problem: str) -> None:
    with pytest.raises(DataError, match=rf"x.md5: .*{problem}"):
        parse_md5(text, "ml-10m.zip", "x.md5")


def test_a_user_zip_must_have_the_pinned_digest_a_folder_is_read(tmp_path: Path) -> None:
    members = files("ml-20m")
    archive = zip_of(tmp_path, "ml-20m", members)
    with pytest.raises(DataError, match=r"ml-20m.zip: its sha256 is .* expected 96f243c3"):
        load_grouplens_dataset(
            "ml-20m", archive, cache_dir=tmp_path / "cache", download=unreachable
        )
    folder = write_dataset_folder("ml-20m", members, tmp_path / "unzipped")
    for path in (folder, folder.parent):
        check_tiny(load_grouplens_dataset("ml-20m", path, download=unreachable), "ml-20m")
    assert not (tmp_path / "cache").exists()  # a user's path never touches the cache


def test_a_user_zip_without_a_pin_is_checked_against_an_md5_beside_it(tmp_path: Path) -> None:
    archive = zip_of(tmp_path, "ml-10m", files("ml-10m"))
    check_tiny(load_grouplens_dataset("ml-10m", archive, download=unreachable), "ml-10m")
    beside = tmp_path / "ml-10m.zip.md5"
    beside.write_text(f"MD5 (ml-10m.zip) = {hashlib.md5(archive.read_bytes()).hexdigest()}\n")
    check_tiny(load_grouplens_dataset("ml-10m", archive, download=unreachable), "ml-10m")
    beside.write_text("MD5 (ml-10m.zip) = " + "0" * 32)
    with pytest.raises(DataError, match=r"its md5 is .* expected 0{32}"):
        load_grouplens_dataset("ml-10m", archive, download=unreachable)


# ---------------------------------------------------------------- the fast path


def test_a_larger_file_takes_the_vectorised_path_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a timing test: a clean 200k-row file never reaches the line-by-line diagnosis nor
    `check_rows`' slow sort, and the result matches the arrays written."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the slow path ran on a clean file")

    monkeypatch.setattr(grouplens_ratings, "diagnose_rating_lines", never)
    monkeypatch.setattr(bad_rows, "check_rows", never)
    for name in ("ml-10m", "ml-25m"):
        big = synthetic_tables(name, n_ratings=200_000, n_users=3_000, n_movies=900, seed=1)
        data = read_grouplens_dataset(name, zip_of(tmp_path, name, dataset_files(name, big)))
        assert len(data) == 200_000
        assert np.array_equal(data.user_ids[data.user].astype(np.int64), big.user)
        assert np.array_equal(data.movies.movie_id[data.movie].astype(np.int64), big.movie)
        assert np.array_equal(data.rating, big.rating)
        assert np.array_equal(data.timestamp, big.timestamp)
