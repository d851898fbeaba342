"""Rating rows that repeat a user and movie, or carry an implausible time: refused by default,
naming the file, line and fix; dropped or reduced to each pair's latest on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelrank.data.movielens.ml100k.grouplens_files import read_grouplens
from reelrank.data.movielens.ml100k.tables import check_rating_rows
from reelrank.errors import DataError
from reelrank.testing.ml100k_fakes import RATINGS, grouplens_files, write_grouplens_folder


def _folder(tmp_path: Path, rows: list[tuple[int, int, int, int]]) -> Path:
    files = grouplens_files()
    files["u.data"] = "".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in rows).encode()
    return write_grouplens_folder(tmp_path / "data", files)


def test_every_row_twice_is_refused_naming_file_line_and_fix(tmp_path: Path) -> None:
    """A folder with every row duplicated once trained silently (Recall@10 0.243 -> 0.034)."""
    folder = _folder(tmp_path, RATINGS + RATINGS)
    with pytest.raises(DataError) as error:
        read_grouplens(folder)
    message = str(error.value)
    assert "u.data: 9 rating(s) repeat a user and movie already rated" in message
    assert f"line 10, user {RATINGS[0][0]} and movie {RATINGS[0][1]} as on line 1" in message
    assert "--on-bad-rows skip" in message and "keep-last" in message


@pytest.mark.parametrize("timestamp", [-1, 10**17])
def test_an_implausible_time_is_refused(tmp_path: Path, timestamp: int) -> None:
    """Timestamps -1 or 10**17 were accepted; `data info` then failed with Errno 75."""
    rows = list(RATINGS)
    rows[4] = (*rows[4][:3], timestamp)
    with pytest.raises(DataError, match=rf"1 timestamp\(s\) outside .*line 5, {timestamp}"):
        read_grouplens(_folder(tmp_path, rows))


def test_skip_and_keep_last_proceed_knowingly(tmp_path: Path) -> None:
    user, movie, _, time = RATINGS[1]
    rows = [*RATINGS, (user, movie, 1, time + 100), (user, movie, 2, time - 100)]
    rows[2] = (*rows[2][:3], -5)
    folder = _folder(tmp_path, rows)
    said: list[str] = []
    skipped = read_grouplens(folder, on_bad_rows="skip", notify=said.append)
    latest = read_grouplens(folder, on_bad_rows="keep-last", notify=said.append)
    assert len(skipped) == len(latest) == len(RATINGS) - 1  # the badly dated row is gone
    pair = (skipped.user_id == str(user)) & (skipped.movie_id == str(movie))
    assert skipped.user_rating[pair].tolist() == [5.0]  # the first rating of the pair
    pair = (latest.user_id == str(user)) & (latest.movie_id == str(movie))
    assert latest.user_rating[pair].tolist() == [1.0]  # the latest in time
    assert "kept 8 of 11 rows (--on-bad-rows skip)" in said[0]
    assert "(--on-bad-rows keep-last)" in said[1]


def test_the_cli_offers_the_choice(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reelrank.cli import app

    folder = _folder(tmp_path, RATINGS + RATINGS[:2])
    (folder / "reelrank-unofficial-data.txt").write_text("test data\n")
    result = CliRunner().invoke(app, ["data", "info", "--data", str(folder)])
    assert result.exit_code == 1, result.output
    result = CliRunner().invoke(app, ["train", "--data", str(folder), "--on-bad-rows", "sometimes"])
    assert result.exit_code == 1 and "--on-bad-rows must be refuse, skip, keep-last" in (
        result.stderr
    )


rows = st.lists(
    st.tuples(
        st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.integers(-5, 5_000_000_000)
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=rows, policy=st.sampled_from(["skip", "keep-last"]))
def test_what_is_kept_is_clean_and_refuse_refuses_exactly_unclean_tables(
    table: list[tuple[int, int, int, int]], policy: str
) -> None:
    """Property, over generated rating tables: a table is refused exactly when it has a repeat
    or a bad time; what skip and keep-last keep has neither, and keeps one row of every pair
    that has a plausibly dated row."""
    array = np.array(table, dtype=np.int64)
    plausible = (array[:, 3] >= 0) & (array[:, 3] <= 4_102_444_800)
    pairs = {(u, m) for u, m, _, _ in table}
    unclean = len(pairs) < len(table) or not plausible.all()
    try:
        keep = check_rating_rows(array, "u.data", first_line=1)
        assert keep is None and not unclean
    except DataError:
        assert unclean
    keep = check_rating_rows(array, "u.data", first_line=1, on_bad_rows=policy)  # type: ignore[arg-type]
    kept = array if keep is None else array[keep]
    assert len({(u, m) for u, m, _, _ in kept.tolist()}) == len(kept)
    assert ((kept[:, 3] >= 0) & (kept[:, 3] <= 4_102_444_800)).all()
    dated = {(u, m) for (u, m, _, _), ok in zip(table, plausible, strict=True) if ok}
    assert {(u, m) for u, m, _, _ in kept.tolist()} == dated


_FIELD = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["", "x", "1.5", "4e2", " 3", "9" * 25, "-0", "\u00e9"]),
)
_LINE = st.lists(_FIELD, min_size=1, max_size=6).map("\t".join)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(_LINE, min_size=0, max_size=12), good=st.integers(0, len(RATINGS)))
def test_a_malformed_ratings_file_is_read_or_refused_with_a_data_error(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], good: int
) -> None:
    """Property, over generated u.data files (good rows mixed with malformed ones: wrong field
    counts, non-numbers, huge numbers, unknown ids, bad ratings, repeats): reading either gives
    clean ratings or a `DataError` naming u.data, never another exception."""
    valid = [f"{u}\t{m}\t{r}\t{t}" for u, m, r, t in RATINGS[:good]]
    files = grouplens_files()
    files["u.data"] = ("\n".join(valid + lines) + "\n").encode("latin-1", "replace")
    folder = write_grouplens_folder(tmp_path_factory.mktemp("fuzz"), files)
    try:
        ratings = read_grouplens(folder)
    except DataError as error:
        assert "u.data" in str(error)
        return
    assert len(ratings) == len(set(zip(ratings.user_id, ratings.movie_id, strict=True)))
    assert ((ratings.user_rating >= 1) & (ratings.user_rating <= 5)).all()
