"""MovieLens 100k's two parsers (GroupLens folder or zip, RecBole wheel): the same table from
each, and error messages that name the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelrank.data.fetch.sources import RECBOLE_WHEEL
from reelrank.data.movielens.ml100k.grouplens_files import read_grouplens
from reelrank.data.movielens.ml100k.recbole_files import read_recbole_wheel
from reelrank.data.movielens.ml100k.tables import bucketize_age
from reelrank.errors import DataError
from reelrank.testing.ml100k_fakes import (
    AGE_BUCKET,
    MOVIES,
    RATINGS,
    USERS,
    assert_same,
    full_title,
    grouplens_files,
    grouplens_zip_bytes,
    recbole_files,
    recbole_wheel_bytes,
    write_grouplens_folder,
)
from reelrank.types import GENRES

WHEEL = recbole_wheel_bytes()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_grouplens_folder(tmp_path / "ml-100k")


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / RECBOLE_WHEEL
    path.write_bytes(WHEEL)
    return path


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
