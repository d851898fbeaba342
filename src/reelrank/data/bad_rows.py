"""The bad-row policy every ratings reader shares (MovieLens 100k, the later releases, people's own
files): rows that repeat a (user, movie) pair or carry an implausible time are refused with the
first one's line, or dropped, or resolved to each pair's latest rating (`--on-bad-rows`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, cast

import numpy as np

from reelrank.data.fetch.archive import file_error
from reelrank.errors import ReelrankError

# What to do with rating rows that repeat a (user, movie) pair or carry an implausible time:
# refuse the file (the default), drop them ("skip": every row with a bad time, then every repeat
# after a pair's first rating), or keep each pair's latest rating ("keep-last").
BadRows = Literal["refuse", "skip", "keep-last"]
BAD_ROW_CHOICES: tuple[str, ...] = ("refuse", "skip", "keep-last")
# Plausible rating times, in seconds since 1970: from then up to the year 2100.
TIMESTAMP_RANGE = (0, 4_102_444_800)


def bad_rows_policy(value: str | None) -> BadRows:
    """`--on-bad-rows VALUE` checked (None: "refuse"); another value is a `ReelrankError`."""
    value = value or "refuse"
    if value not in BAD_ROW_CHOICES:
        raise ReelrankError(f"--on-bad-rows must be {', '.join(BAD_ROW_CHOICES)}; got {value!r}")
    return cast(BadRows, value)


def check_rows(
    user: np.ndarray,
    movie: np.ndarray,
    timestamp: np.ndarray | None,
    file: str,
    *,
    first_line: int,
    on_bad_rows: BadRows = "refuse",
    notify: Callable[[str], None] | None = None,
    user_ids: np.ndarray | None = None,
    movie_ids: np.ndarray | None = None,
) -> np.ndarray | None:
    """Find the rating rows that repeat a (user, movie) pair or whose timestamp lies outside
    `TIMESTAMP_RANGE` (`timestamp` None: no times to check). `user`, `movie` `[n]` are ids as
    non-negative ints, or codes into `user_ids` / `movie_ids` (then shown as those ids).

    None when there are none; else, by `on_bad_rows`, a `DataError` naming the file, the first
    such line, the counts and the fix ("refuse"), or the `[n]` mask of rows to keep (reported
    through `notify`): rows with a bad time are dropped, then each (user, movie) pair keeps its
    first row ("skip") or its latest ("keep-last"). One int64 key per row, so 25M rows take
    seconds."""
    if on_bad_rows not in BAD_ROW_CHOICES:
        raise ValueError(f"on_bad_rows must be one of {BAD_ROW_CHOICES}, got {on_bad_rows!r}")
    n = len(user)
    low, high = TIMESTAMP_RANGE
    times = np.zeros(n, dtype=np.int64) if timestamp is None else timestamp.astype(np.int64)
    bad_time = (times < low) | (times > high)
    width = int(movie.max()) + 1 if n else 1
    pair_key = user.astype(np.int64) * width + movie.astype(np.int64)
    order = np.argsort(pair_key, kind="stable")  # within a pair, rows stay in file order
    sorted_key = pair_key[order]
    starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]] if n else np.zeros(0, bool)
    pair = np.empty(n, dtype=np.int64)
    pair[order] = np.cumsum(starts) - 1
    first_of_pair = order[starts]
    repeat = np.ones(n, dtype=bool)
    repeat[first_of_pair] = False  # rows whose (user, movie) pair came earlier
    if not bad_time.any() and not repeat.any():
        return None

    def shown(ids: np.ndarray | None, value: Any) -> str:
        return str(value) if ids is None else str(ids[value])

    problems = []
    if repeat.any():
        row = int(np.argmax(repeat))
        earlier = int(first_of_pair[pair[row]])
        problems.append(
            f"{int(repeat.sum()):,} rating(s) repeat a user and movie already rated (first: line "
            f"{first_line + row}, user {shown(user_ids, user[row])} and movie "
            f"{shown(movie_ids, movie[row])} as on line {first_line + earlier})"
        )
    if bad_time.any():
        row = int(np.argmax(bad_time))
        problems.append(
            f"{int(bad_time.sum()):,} timestamp(s) outside {low}..{high} (seconds since 1970 to "
            f"2100; first: line {first_line + row}, {times[row]})"
        )
    if on_bad_rows == "refuse":
        raise file_error(
            file,
            None,
            "; ".join(problems),
            "one rating per user and movie, at a plausible time. Fix the file, or pass "
            "--on-bad-rows skip (drop those rows) or --on-bad-rows keep-last (keep each user and "
            "movie's latest rating)",
        )
    # Badly dated rows go first; of the rest, each pair keeps its first or its latest rating.
    dated = np.flatnonzero(~bad_time)
    keep = np.zeros(n, dtype=bool)
    if on_bad_rows == "skip":  # the first dated row of each pair, by line
        by_line = dated[np.lexsort((dated, pair[dated]))]
        first = np.ones(len(by_line), dtype=bool)
        first[1:] = pair[by_line[1:]] != pair[by_line[:-1]]
        keep[by_line[first]] = True
    else:  # the last of a pair's rows by time, then by line
        by_pair = dated[np.lexsort((dated, times[dated], pair[dated]))]
        last = np.ones(len(by_pair), dtype=bool)
        last[:-1] = pair[by_pair[:-1]] != pair[by_pair[1:]]
        keep[by_pair[last]] = True
    if notify is not None:
        notify(
            f"reelrank: {file}: {'; '.join(problems)}; kept {int(keep.sum()):,} of {n:,} rows "
            f"(--on-bad-rows {on_bad_rows})."
        )
    return keep
