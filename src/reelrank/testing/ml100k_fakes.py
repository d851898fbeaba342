"""A tiny MovieLens-100k-shaped data set for tests, written as a GroupLens folder, zip and fake
RecBole wheel.

The same records produce every form, so the parsers must agree on them. The records hold the
awkward cases of the real data: a Latin-1 accented title, a title with a trailing space, the
"unknown" movie without a release date (RecBole spells it "unkonwn"), genre names with apostrophes
and hyphens, zip codes with leading zeros or letters, and an age at every bucket edge.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from reelrank.data.movielens.ml100k.user_path import Digests
from reelrank.types import GENRES, RATING_FEATURES, Ratings

# (user id, age, gender, occupation, zip code)
USERS = [
    (1, 24, "M", "technician", "85711"),
    (2, 53, "F", "other", "94043"),
    (3, 17, "M", "student", "05201"),
    (4, 18, "F", "artist", "T8H1N"),
    (5, 56, "M", "retired", "32067"),
    (6, 45, "F", "healthcare", "98101"),
    (7, 35, "M", "writer", "01002"),
]
# (movie id, title without year, year or None, genres)
MOVIES = [
    (1, "Toy Story", "1995", ["Animation", "Children's", "Comedy"]),
    (2, "Misérables, Les", "1995", ["Drama", "War"]),
    (3, "Two Friends", "1986", ["Drama"]),  # u.item has a trailing space after the year
    (267, "unknown", None, ["unknown"]),
    (5, "Blade Runner", "1982", ["Film-Noir", "Sci-Fi"]),
]
TRAILING_SPACE = {3}
# (user id, movie id, rating, timestamp) in file order, deliberately not sorted
RATINGS = [
    (3, 267, 4, 881250949),
    (1, 1, 5, 874965758),
    (7, 2, 1, 878887116),
    (2, 5, 3, 891717742),
    (4, 3, 2, 880606923),
    (5, 1, 4, 886397596),
    (6, 5, 5, 884182806),
    (1, 2, 3, 881171488),
    (2, 267, 1, 891628467),
]

AGE_BUCKET = {1: 18, 2: 50, 3: 1, 4: 18, 5: 56, 6: 45, 7: 35}


def full_title(movie_id: int) -> str:
    _, title, year, _ = next(m for m in MOVIES if m[0] == movie_id)
    return title if year is None else f"{title} ({year})"


def u_data() -> str:
    return "".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in RATINGS)


def u_item() -> str:
    lines = []
    for movie_id, _, year, genres in MOVIES:
        title = full_title(movie_id) + (" " if movie_id in TRAILING_SPACE else "")
        date = f"01-Jan-{year}" if year else ""
        url = f"http://us.imdb.com/M/title-exact?{movie_id}" if year else ""
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        lines.append(f"{movie_id}|{title}|{date}||{url}|{flags}\n")
    return "".join(lines)


def u_user() -> str:
    return "".join(f"{u}|{a}|{g}|{o}|{z}\n" for u, a, g, o, z in USERS)


def grouplens_files() -> dict[str, bytes]:
    """The three GroupLens files, encoded as GroupLens does (Latin-1)."""
    return {
        "u.data": u_data().encode("latin-1"),
        "u.item": u_item().encode("latin-1"),
        "u.user": u_user().encode("latin-1"),
    }


def write_grouplens_folder(folder: Path, files: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (grouplens_files() if files is None else files).items():
        (folder / name).write_bytes(data)
    return folder


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of `members`, the same bytes on every call (a fixed date), so its sha256 is too."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1998, 4, 23, 0, 0, 0))
            z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def grouplens_zip_bytes(files: dict[str, bytes] | None = None) -> bytes:
    """Like the official ml-100k.zip: the files under `ml-100k/`."""
    files = grouplens_files() if files is None else files
    return zip_bytes({f"ml-100k/{name}": data for name, data in files.items()})


def recbole_files() -> dict[str, bytes]:
    """RecBole's atomic files for the same records (UTF-8, headers, titles split from years)."""
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + u_data()
    item = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n" + "".join(
        f"{m}\t{'unkonwn' if y is None else t}\t{'unkonwn' if y is None else y}\t{' '.join(g)}\n"
        for m, t, y, g in MOVIES
    )
    user = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n" + "".join(
        f"{u}\t{a}\t{g}\t{o}\t{z}\n" for u, a, g, o, z in USERS
    )
    return {
        "ml-100k.inter": inter.encode("utf-8"),
        "ml-100k.item": item.encode("utf-8"),
        "ml-100k.user": user.encode("utf-8"),
    }


def recbole_wheel_bytes(files: dict[str, bytes] | None = None) -> bytes:
    files = recbole_files() if files is None else files
    members = {f"recbole/dataset_example/ml-100k/{name}": data for name, data in files.items()}
    members["recbole/__init__.py"] = b""
    return zip_bytes(members)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_digests() -> Digests:
    """The sha256 sums of the fakes, for sources that check a user's path against pinned sums."""
    return Digests(
        grouplens_zip=sha256(grouplens_zip_bytes()),
        grouplens_files={name: sha256(data) for name, data in grouplens_files().items()},
        recbole_wheel=sha256(recbole_wheel_bytes()),
    )


def assert_same(a: Ratings, b: Ratings) -> None:
    """Every column equal, with the same dtype and shape."""
    for name in RATING_FEATURES:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.shape == y.shape, name
        assert np.array_equal(x, y), name
