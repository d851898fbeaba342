"""MovieLens 100k as a `Ratings` table with TFDS `movielens/100k-ratings` feature names.

`load_movielens_100k` is the entry point: it reads a path the user gives (checked against pinned
sha256 sums, `user_path`), or else the parsed cache (`parquet_cache`),
or else fetches the raw files through the source chain (`sources`), parses them and
writes the parsed cache. On the first download it shows GroupLens' licence terms.

Two parsers read the two raw forms and give identical tables: `read_grouplens` (the GroupLens
folder or `ml-100k.zip`) and `read_recbole_wheel` (the same data as shipped in the `recbole`
wheel). Rows stay in `u.data` order, because the canonical folds of MovieLens 100k are row ranges
of that order.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from reelrank.data.bad_rows import BadRows
from reelrank.data.fetch.cache import resolve_cache_dir
from reelrank.data.fetch.sources import Fetched, Source, default_sources, fetch_raw
from reelrank.data.movielens.ml100k.grouplens_files import read_grouplens
from reelrank.data.movielens.ml100k.parquet_cache import (
    DATASET,
    PARQUET_NAME,
    read_manifest,
    read_parsed_cache,
    write_parsed_cache,
)
from reelrank.data.movielens.ml100k.recbole_files import read_recbole_wheel
from reelrank.data.movielens.ml100k.user_path import OFFICIAL_DIGESTS, Digests, UserPath
from reelrank.files import atomic_write_text
from reelrank.types import Ratings

LICENCE_MARKER = "ml-100k.licence-shown"
LICENCE_NOTICE = """\
MovieLens 100k is provided by GroupLens Research (University of Minnesota) under its own terms
(see the README in ml-100k.zip): it may be used for research purposes only; you may not state or
imply endorsement by the University of Minnesota or GroupLens; you may not redistribute the data
without separate permission; no commercial or revenue-bearing use without permission.
Acknowledge its use in publications; GroupLens asks you to cite:
  F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context.
  ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19."""

Notify = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def load_movielens_100k(
    data: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    notify: Notify | None = None,
    sources: Sequence[Source] | None = None,
    digests: Digests | None = OFFICIAL_DIGESTS,
    on_bad_rows: BadRows = "refuse",
) -> Ratings:
    """MovieLens 100k as `Ratings`, rows in `u.data` order.

    `data`: a GroupLens folder or `ml-100k.zip` (or the RecBole wheel) to read instead of the
    cache; only that path is used, after checking it against `digests` (the official sha256 sums;
    None skips the check). `cache_dir`: overrides `REELRANK_CACHE_DIR` / the XDG default.
    `notify`: receives progress lines and the licence notice (default: stderr). `sources`: the
    network sources to try in order (default: GroupLens, then the RecBole wheel on PyPI).
    `on_bad_rows`: what to do with rating rows that repeat a user and movie or carry an
    implausible time ("refuse", "skip", "keep-last"; `tables.check_rating_rows`).
    """
    say = notify or _stderr
    if data is not None:
        fetched = UserPath(Path(data), digests=digests).fetch()
        return read_fetched(fetched, on_bad_rows=on_bad_rows, notify=say)
    cache = resolve_cache_dir(cache_dir)
    ratings = read_parsed_cache(cache, say)
    if ratings is not None:
        return ratings
    fetched = fetch_raw(default_sources() if sources is None else sources, cache, say)
    if fetched.downloaded:
        _show_licence_once(cache, say)
    ratings = read_fetched(fetched, on_bad_rows=on_bad_rows, notify=say)
    try:
        write_parsed_cache(cache, ratings, fetched)
    except OSError as e:  # the data is good; only the speed-up is lost
        say(f"reelrank: could not write the parsed cache in {cache} ({e}); continuing without it.")
    return ratings


def dataset_info(
    data: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    sources: Sequence[Source] | None = None,
    digests: Digests | None = OFFICIAL_DIGESTS,
) -> dict[str, object]:
    """What `reelrank data info` shows: where the data is and its counts. Never downloads.

    With `data`, that path is checked against `digests` and read. Otherwise the parsed cache is
    read (rebuilt first from a raw download already in the cache, if needed); if nothing is
    cached, `cached` is False and `note` says how the data will be obtained.
    """
    cache = resolve_cache_dir(cache_dir)
    info: dict[str, object] = {"dataset": DATASET, "cache_dir": str(cache)}
    if data is not None:
        fetched = UserPath(Path(data), digests=digests).fetch()
        return {
            **info,
            "cached": False,
            "source": fetched.source,
            "path": str(fetched.path),
            **read_fetched(fetched).summary(),
        }
    notes: list[str] = []
    ratings = read_parsed_cache(cache, notes.append)
    rebuilt = None
    if ratings is None:
        for source in default_sources() if sources is None else sources:
            rebuilt = source.cached(cache)
            if rebuilt is not None:
                ratings = read_fetched(rebuilt)
                try:
                    write_parsed_cache(cache, ratings, rebuilt)
                    rebuilt = None  # the parsed cache is whole again: report it as usual
                except OSError as e:  # a read-only cache: the counts are right, the file absent
                    notes.append(f"The parsed cache could not be rewritten ({e.strerror or e}).")
                break
    if ratings is not None and rebuilt is not None:
        return {
            **info,
            "cached": True,
            "source": rebuilt.source,
            "path": None,
            "raw_download": str(rebuilt.path),
            "raw_sha256": rebuilt.sha256,
            "note": " ".join(notes),
            **ratings.summary(),
        }
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
    manifest = read_manifest(cache)
    return {
        **info,
        "cached": True,
        "source": manifest["source"],
        "path": str(cache / PARQUET_NAME),
        "raw_download": str(cache / manifest["raw_file"]),
        "raw_sha256": manifest["raw_sha256"],
        **ratings.summary(),
    }


def read_fetched(
    fetched: Fetched, *, on_bad_rows: BadRows = "refuse", notify: Notify | None = None
) -> Ratings:
    """Parse a verified raw copy with the parser its format needs."""
    read = read_recbole_wheel if fetched.format == "recbole_wheel" else read_grouplens
    return read(fetched.path, on_bad_rows=on_bad_rows, notify=notify)


def _show_licence_once(cache: Path, notify: Notify) -> None:
    marker = cache / LICENCE_MARKER
    if marker.exists():
        return
    notify(LICENCE_NOTICE)
    atomic_write_text(marker, LICENCE_NOTICE + "\n")
