"""People's own ratings: CSV, TSV, Parquet and gzip files or in-memory tables, a column mapping or
guessed columns, an optional movies table, and bad rows refused by line or skipped and counted."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

from reelrank.data.tables.column_mapping import ColumnMapping, MovieColumns
from reelrank.data.tables.ratings_file import interactions_from_table, read_ratings_file
from reelrank.errors import DataError, ReelrankError
from reelrank.types import GENRES

HEADER = "userId,movieId,rating,timestamp\n"
ROWS = "1,10,4.0,978300760\n2,10,3.5,978300761\n10,2,5,978300762\n2,2,1,978300763\n"
MOVIES = (
    "movieId,title,genres\n"
    '10,"Toy Story (1995)",Adventure|animation|Children|Comedy|IMAX\n'
    "2,Jumanji (1995),(no genres listed)\n"
    "3,Heat (1995),Action|Crime\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _csv(tmp_path: Path, rows: str = ROWS, header: str = HEADER, name: str = "r.csv") -> Path:
    return _write(tmp_path, name, header + rows)


def _refused(tmp_path: Path, rows: str, **kwargs: Any) -> str:
    with pytest.raises(DataError) as error:
        read_ratings_file(_csv(tmp_path, rows), **kwargs)
    return str(error.value)


def _skipped(tmp_path: Path, rows: str) -> tuple[Any, list[str]]:
    notes: list[str] = []
    data = read_ratings_file(_csv(tmp_path, rows), on_bad_rows="skip", notify=notes.append)
    return data, [note for note in notes if "using columns" not in note]


def _check_basic(data: Any) -> None:
    """The four `ROWS`, whichever file or table they came from."""
    assert data.user_ids.tolist() == ["1", "10", "2"]  # sorted as strings
    assert data.movies.movie_id.tolist() == ["10", "2"]
    assert data.user_ids[data.user].tolist() == ["1", "2", "10", "2"]  # file order
    assert data.movies.movie_id[data.movie].tolist() == ["10", "10", "2", "2"]
    assert data.rating.tolist() == [4.0, 3.5, 5.0, 1.0]
    assert data.rating.dtype == np.float32 and data.user.dtype == np.int32
    assert data.timestamp.tolist() == [978300760, 978300761, 978300762, 978300763]
    assert data.explicit and data.timed
    assert data.movies.title.tolist() == ["10", "2"]  # no movies table: the id
    assert data.movies.genres[:, 0].all() and not data.movies.genres[:, 1:].any()


# --- formats ---------------------------------------------------------------------------------


def test_csv(tmp_path: Path) -> None:
    _check_basic(read_ratings_file(_csv(tmp_path)))


@pytest.mark.parametrize("name", ["r.tsv", "r.tab", "R.TSV"])
def test_tab_separated(tmp_path: Path, name: str) -> None:
    text = (HEADER + ROWS).replace(",", "\t")
    _check_basic(read_ratings_file(_write(tmp_path, name, text)))


@pytest.mark.parametrize("name", ["r.csv.gz", "r.tsv.gz"])
def test_gzipped_text(tmp_path: Path, name: str) -> None:
    text = HEADER + ROWS
    if ".tsv" in name:
        text = text.replace(",", "\t")
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()))
    _check_basic(read_ratings_file(path))


@pytest.mark.parametrize("name", ["r.parquet", "r.pq"])
def test_parquet(tmp_path: Path, name: str) -> None:
    table = pv.read_csv(_csv(tmp_path))
    pq.write_table(table, tmp_path / name)
    data = read_ratings_file(tmp_path / name)
    _check_basic(data)
    assert data.fingerprint() == read_ratings_file(_csv(tmp_path)).fingerprint()


def test_string_ids_are_trimmed_and_sorted_as_strings(tmp_path: Path) -> None:
    rows = "u1,m-b,4,1\n u10 ,m-a,3,2\nu2,m-b,5,3\n"
    data = read_ratings_file(_csv(tmp_path, rows))
    assert data.user_ids.tolist() == ["u1", "u10", "u2"]
    assert data.movies.movie_id.tolist() == ["m-a", "m-b"]
    assert data.user.tolist() == [0, 1, 2] and data.movie.tolist() == [1, 0, 1]


def test_ids_mixing_numbers_and_text_are_text(tmp_path: Path) -> None:
    data = read_ratings_file(_csv(tmp_path, "7,1,4,1\nx9,1,3,2\n"))
    assert data.user_ids.tolist() == ["7", "x9"]


def test_blank_lines_are_ignored_and_line_numbers_stay_true(tmp_path: Path) -> None:
    message = _refused(tmp_path, "1,10,4,1\n\n2,10,4,2\n2,10,3,3\n")
    assert "r.csv: 1 rating(s) repeat" in message and "line 5, user 2" in message
    assert "as on line 4" in message


# --- column mapping --------------------------------------------------------------------------


def test_mapping_parses_the_cli_form() -> None:
    mapping = ColumnMapping.parse("user=userId, movie=movieId,rating=stars,timestamp=ts")
    assert mapping == ColumnMapping("userId", "movieId", "stars", "ts")
    assert str(mapping) == "user=userId,movie=movieId,rating=stars,timestamp=ts"
    assert ColumnMapping.parse("movie=m,user=u") == ColumnMapping("u", "m")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("user=u,movie=m,stars=r", "unknown key 'stars'"),
        ("user=u,rating=r", "no movie column"),
        ("rating=r", "no user and no movie column"),
        ("user=u,movie=m,user=v", "user is given twice"),
        ("user=u,movie=", "movie names no column"),
        ("user=u,movie", "'movie' is not key=COLUMN"),
        ("user=a,movie=a", "column 'a' is given as both user and movie"),
    ],
)
def test_mapping_errors_say_the_accepted_form(text: str, problem: str) -> None:
    with pytest.raises(ReelrankError) as error:
        ColumnMapping.parse(text)
    assert problem in str(error.value)
    assert "--columns user=COLUMN,movie=COLUMN[,rating=COLUMN][,timestamp=COLUMN]" in str(
        error.value
    )


def test_mapping_picks_named_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,1,x,4.5,100\nb,2,y,3,200\n", "who,what,note,stars,when\n")
    notes: list[str] = []
    data = read_ratings_file(
        path, "user=who,movie=what,rating=stars,timestamp=WHEN", notify=notes.append
    )
    assert data.user_ids.tolist() == ["a", "b"] and data.rating.tolist() == [4.5, 3.0]
    assert data.timestamp.tolist() == [100, 200] and notes == []
    same = read_ratings_file(path, {"user": "who", "movie": "what"})
    assert not same.explicit and not same.timed


def test_a_missing_column_lists_the_columns_found(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_ratings_file(_csv(tmp_path), "user=userId,movie=itemId")
    message = str(error.value)
    assert "r.csv: has no column 'itemId' (the movie column in --columns)" in message
    assert "'userId', 'movieId', 'rating', 'timestamp'" in message


def test_usual_names_are_guessed_and_said(tmp_path: Path) -> None:
    path = _csv(tmp_path, "1,10,4,1\n", "USER_ID,Item_Id,Score,extra\n")
    notes: list[str] = []
    data = read_ratings_file(path, notify=notes.append)
    assert notes == [
        f"reelrank: {path}: using columns user=USER_ID,movie=Item_Id,rating=Score; no timestamp "
        "column (pass --columns to choose)."
    ]
    assert data.explicit and not data.timed


def test_unguessable_columns_are_listed(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        read_ratings_file(_csv(tmp_path, "1,10\n", "who,what\n"))
    message = str(error.value)
    assert "cannot tell which column holds the user or the movie id" in message
    assert "'who', 'what'" in message and "--columns user=COLUMN" in message


# --- what the table holds --------------------------------------------------------------------


def test_a_table_of_views_trains_retrieval_only(tmp_path: Path) -> None:
    data = read_ratings_file(_csv(tmp_path, "1,10,5\n2,10,6\n", "user,item,ts\n"))
    assert not data.explicit and data.timed
    assert data.rating.tolist() == [1.0, 1.0] and data.timestamp.tolist() == [5, 6]


def test_no_time_column(tmp_path: Path) -> None:
    data = read_ratings_file(_csv(tmp_path, "1,10,4\n2,10,3\n", "user,movie,rating\n"))
    assert data.explicit and not data.timed and data.timestamp.tolist() == [0, 0]


def test_iso_times_become_seconds_since_1970(tmp_path: Path) -> None:
    rows = (
        "1,1,4,2001-01-01\n"
        "1,2,4,2001-01-01 00:00:10\n"
        "1,3,4,2001-01-01T00:00:20Z\n"
        "1,4,4,2001-01-01T02:00:30+02:00\n"
        "1,5,4,2001-01-01T00:00:40.75\n"
        "1,6,4,2001-01-01T00:01\n"
        "1,7,4,978307260\n"
    )
    data = read_ratings_file(_csv(tmp_path, rows))
    base = 978307200  # 2001-01-01T00:00:00Z
    assert (data.timestamp - base).tolist() == [0, 10, 20, 30, 40, 60, 60]
    one_form = read_ratings_file(_csv(tmp_path, "1,1,4,2001-01-01T00:00:20Z\n", name="z.csv"))
    assert one_form.timestamp.tolist() == [base + 20]


def test_arrow_times_and_dates() -> None:
    base = 978307200  # 2001-01-01T00:00:00Z
    for times in (
        pa.array([base * 1000 + 999, (base + 60) * 1000], pa.timestamp("ms", tz="Europe/Paris")),
        pa.array([base * 10**9, (base + 60) * 10**9], pa.timestamp("ns")),
        pa.array([11323, 11323], pa.date32()),
        pa.array([float(base), base + 60.5]),
    ):
        table = pa.table({"user": ["a", "b"], "movie": [1, 1], "ts": times})
        data = interactions_from_table(table)
        assert data.timed and data.timestamp[0] == base, times.type


def test_ids_arrow_takes_for_floats_are_read_as_written(tmp_path: Path) -> None:
    rows = "12345678901234567890123,1.0,4,1\n12345678901234567890124,2.5,4,2\n"
    data = read_ratings_file(_csv(tmp_path, rows))
    assert data.user_ids.tolist() == ["12345678901234567890123", "12345678901234567890124"]
    assert data.movies.movie_id.tolist() == ["1.0", "2.5"]
    table = pa.table({"user": [1e20, 2e20], "movie": [1, 2]})  # past 2**53: not made integers
    assert interactions_from_table(table).user_ids.tolist() == ["1e+20", "2e+20"]


# --- movies table ----------------------------------------------------------------------------


def test_movies_file_gives_titles_and_genres(tmp_path: Path) -> None:
    notes: list[str] = []
    movies = _write(tmp_path, "movies.csv", MOVIES)
    data = read_ratings_file(_csv(tmp_path), movies=movies, notify=notes.append)
    assert data.movies.movie_id.tolist() == ["10", "2"]  # only rated movies
    assert data.movies.title.tolist() == ["Toy Story (1995)", "Jumanji (1995)"]
    toy = {GENRES[g] for g in np.flatnonzero(data.movies.genres[0])}
    assert toy == {"Adventure", "Animation", "Children's", "Comedy"}
    assert np.flatnonzero(data.movies.genres[1]).tolist() == [0]  # "(no genres listed)"
    assert sum("genres not among" in note and "IMAX" in note for note in notes) == 1


def test_movies_table_with_ids_and_titles_only(tmp_path: Path) -> None:
    movies = pa.table({"item": [2, 10], "name": ["Jumanji", "Toy Story"]})
    data = read_ratings_file(_csv(tmp_path), movies=movies, movie_columns="movie=item,title=name")
    assert data.movies.title.tolist() == ["Toy Story", "Jumanji"]
    assert data.movies.genres[:, 0].all()


def test_a_rated_movie_missing_from_the_movies_file(tmp_path: Path) -> None:
    movies = _write(tmp_path, "movies.csv", "movieId,title\n10,Toy Story\n")
    with pytest.raises(DataError) as error:
        read_ratings_file(_csv(tmp_path), movies=movies)
    message = str(error.value)
    assert "r.csv, line 4: movie 2 is not in" in message and "(2 bad rows in all)" in message
    assert "--on-bad-rows skip" in message
    notes: list[str] = []
    data = read_ratings_file(_csv(tmp_path), movies=movies, on_bad_rows="skip", notify=notes.append)
    assert len(data) == 2 and data.movies.movie_id.tolist() == ["10"]
    assert data.user_ids.tolist() == ["1", "2"]  # user 10 only rated the dropped movie
    assert any("skipped 2 of 4 rows (2 with a movie not in" in note for note in notes)


def test_a_movie_listed_twice(tmp_path: Path) -> None:
    movies = _write(tmp_path, "movies.csv", "movieId,title\n10,A\n2,B\n10,C\n")
    with pytest.raises(DataError, match=r"movies.csv, line 4: movie 10 is listed again \(first at"):
        read_ratings_file(_csv(tmp_path), movies=movies)
    data = read_ratings_file(_csv(tmp_path), movies=movies, on_bad_rows="skip")
    assert data.movies.title.tolist() == ["A", "B"]


def test_movie_mapping_errors() -> None:
    with pytest.raises(ReelrankError, match=r"--movie-columns .*unknown key 'year'"):
        MovieColumns.parse("movie=id,year=y")


# --- in-memory tables ------------------------------------------------------------------------


def _table() -> pa.Table:
    return pa.table(
        {
            "userId": [1, 2, 10, 2],
            "movieId": [10, 10, 2, 2],
            "rating": [4.0, 3.5, 5.0, 1.0],
            "timestamp": [978300760, 978300761, 978300762, 978300763],
        }
    )


class _Stream:
    """A dataframe that only speaks the Arrow PyCapsule stream (as pandas 2.2 and polars do)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.table.__arrow_c_stream__(requested_schema)


class _Interchange:
    """A dataframe that only speaks the dataframe interchange protocol (older pandas)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __dataframe__(self, nan_as_null: bool = False, allow_copy: bool = True) -> object:
        return self.table.__dataframe__(nan_as_null, allow_copy)


@pytest.mark.parametrize("wrap", [lambda t: t, _Stream, _Interchange, lambda t: t.to_batches()[0]])
def test_in_memory_tables(wrap: Any) -> None:
    _check_basic(interactions_from_table(wrap(_table())))


def test_pandas_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(_table().to_pydict())
    _check_basic(interactions_from_table(frame))


def test_polars_dataframe() -> None:
    pl = pytest.importorskip("polars")
    _check_basic(interactions_from_table(pl.DataFrame(_table().to_pydict())))


def test_table_problems_are_named_by_position() -> None:
    table = _table().set_column(2, "rating", pa.array([4.0, float("nan"), 5.0, 1.0]))
    with pytest.raises(DataError, match=r"the table, position 1: the rating \(column 'rating'\)"):
        interactions_from_table(table)
    doubled = pa.concat_tables([_table(), _table()])
    with pytest.raises(DataError, match=r"first: position 4, user 1 and movie 10 as on position 0"):
        interactions_from_table(doubled)


def test_whole_floats_with_gaps_are_integer_ids_and_categoricals_are_decoded() -> None:
    table = _table()
    table = table.set_column(0, "userId", pa.array([1.0, 2.0, 10.0, None]))
    table = table.set_column(1, "movieId", pa.array(["10", "10", "2", "2"]).dictionary_encode())
    notes: list[str] = []
    data = interactions_from_table(table, on_bad_rows="skip", notify=notes.append)
    assert data.user_ids.tolist() == ["1", "10", "2"] and len(data) == 3
    assert data.movies.movie_id.tolist() == ["10", "2"]
    assert "skipped 1 of 4 rows (1 with an empty user id; first: position 3)" in notes[1]
    assert 'on_bad_rows="skip"' in str(_refusal(table))


def _refusal(table: pa.Table) -> DataError:
    with pytest.raises(DataError) as error:
        interactions_from_table(table)
    return error.value


def test_not_a_table() -> None:
    with pytest.raises(ReelrankError, match="cannot read ratings from a list"):
        interactions_from_table([1, 2, 3])


# --- bad rows --------------------------------------------------------------------------------

BAD_ROWS = [
    (",10,4,2", "the user id (column 'userId') is empty", "an empty user id"),
    ("2,  ,4,2", "the movie id (column 'movieId') is empty", "an empty movie id"),
    ("2,10,four,2", "the rating (column 'rating') is 'four'", "a bad rating"),
    ("2,10,NaN,2", "the rating (column 'rating') is empty", "a bad rating"),  # NaN reads as null
    ("2,10,inf,2", "the rating (column 'rating') is inf", "a bad rating"),
    ("2,10,-1,2", "the rating (column 'rating') is -1", "a bad rating"),
    ("2,10,,2", "the rating (column 'rating') is empty", "a bad rating"),
    ("2,10,3,yesterday", "the time (column 'timestamp') is 'yesterday'", "a bad time"),
    ("2,10,3,2020-13-01", "the time (column 'timestamp') is '2020-13-01'", "a bad time"),
]


def _with_bad(bad: str) -> str:
    """Good rows on lines 2, 3 and 5; `bad` on lines 4 and 6."""
    return f"3,3,3,3\n1,10,4,1\n{bad}\n2,11,4,5\n{bad}\n"


@pytest.mark.parametrize(("bad", "problem", "label"), BAD_ROWS)
def test_bad_rows_are_refused_by_line(tmp_path: Path, bad: str, problem: str, label: str) -> None:
    message = _refused(tmp_path, _with_bad(bad))
    assert message.startswith(f"{tmp_path / 'r.csv'}, line 4: {problem} (2 bad rows in all); ")
    assert message.endswith("; fix the data, or pass --on-bad-rows skip to drop such rows.")


@pytest.mark.parametrize(("bad", "problem", "label"), BAD_ROWS)
def test_bad_rows_are_skipped_and_counted(
    tmp_path: Path, bad: str, problem: str, label: str
) -> None:
    data, notes = _skipped(tmp_path, _with_bad(bad))
    assert len(data) == 3 and data.timestamp.tolist() == [3, 1, 5]
    assert notes == [
        f"reelrank: {tmp_path / 'r.csv'}: skipped 2 of 5 rows (2 with {label}; first: line 4) "
        "(--on-bad-rows skip)."
    ]


def test_the_first_of_several_bad_rows_is_named_with_the_count(tmp_path: Path) -> None:
    message = _refused(tmp_path, "1,10,4,1\n2,10,x,2\n,10,4,3\n")
    assert "line 3: the rating (column 'rating') is 'x' (2 bad rows in all)" in message


def test_a_line_with_the_wrong_number_of_fields(tmp_path: Path) -> None:
    message = _refused(tmp_path, "1,10,4,1\n2,10\n3,10,4,3\n")
    assert message.startswith(f"{tmp_path / 'r.csv'}, line 3: found 2 fields; expected 4 ','")
    rows = "1,10,4,1\n2,10\n3,10,4,3\n3,10,5,4\n"
    data, notes = _skipped(tmp_path, rows)
    assert len(data) == 2
    assert "skipped 1 of 4 rows (1 with the wrong number of fields; first: line 3)" in notes[0]
    assert "first: line 5, user 3 and movie 10 as on line 4" in notes[1]  # numbers stay true


def test_repeats_and_implausible_times_go_through_check_rows(tmp_path: Path) -> None:
    message = _refused(tmp_path, "1,10,4,1\n2,10,4,99999999999\n")
    assert "1 timestamp(s) outside" in message and "first: line 3" in message
    data, notes = _skipped(tmp_path, "1,10,4,1\n1,10,3,2\n")
    assert data.rating.tolist() == [4.0] and "1 rating(s) repeat" in notes[0]
    kept = read_ratings_file(_csv(tmp_path, "1,10,4,1\n1,10,3,2\n"), on_bad_rows="keep-last")
    assert kept.rating.tolist() == [3.0]


def test_parquet_rows_are_counted_from_one(tmp_path: Path) -> None:
    table = _table().set_column(2, "rating", pa.array([4.0, 3.5, -5.0, 1.0]))
    pq.write_table(table, tmp_path / "r.parquet")
    with pytest.raises(DataError, match=r"r.parquet, row 3: the rating \(column 'rating'\) is -5"):
        read_ratings_file(tmp_path / "r.parquet")


def test_all_rows_bad(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no rows are left"):
        read_ratings_file(_csv(tmp_path, ",1,1,1\n"), on_bad_rows="skip")


# --- files that are not there or not tables ---------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.csv: no such file; expected a ratings table"):
        read_ratings_file(tmp_path / "nope.csv")


def test_a_folder(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match=r"d.csv: is a folder"):
        read_ratings_file(tmp_path / "d.csv")


@pytest.mark.parametrize("name", ["r.json", "r", "r.parquet.gz", "r.gz"])
def test_unknown_suffix(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, HEADER + ROWS)
    with pytest.raises(DataError, match=r"cannot tell its format from its name; expected .*\.csv"):
        read_ratings_file(path)


@pytest.mark.parametrize("text", ["", "\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError, match="it is empty or starts with a blank line"):
        read_ratings_file(_write(tmp_path, "r.csv", text))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"r.csv: it has no rows; expected one row per rating"):
        read_ratings_file(_csv(tmp_path, ""))


def test_not_parquet(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"r.parquet: cannot be read as Parquet"):
        read_ratings_file(_write(tmp_path, "r.parquet", HEADER + ROWS))


def test_bad_on_bad_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_bad_rows must be one of"):
        read_ratings_file(_csv(tmp_path), on_bad_rows="ignore")  # type: ignore[arg-type]
