"""Which ratings a command reads: a MovieLens data set by name, or the user's own file.

`DataChoice` is what the CLI's data options say (`--dataset`, `--data`, `--ratings`,
`--columns`, `--movies`, `--on-bad-rows`, `--cache-dir`) and what an artifact records as the data
it was trained on, so `evaluate` and `report` read the same data by default. `load_data` reads it:
MovieLens 100k through its own loader and Parquet cache (it is small); every other data set and
own file through the encoded cache (`reelrank.data.encoding.cache`), so the second run maps
the arrays instead of parsing them again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from reelrank.data.bad_rows import BadRows, bad_rows_policy
from reelrank.data.fetch.cache import resolve_cache_dir
from reelrank.data.interactions import Interactions, as_interactions
from reelrank.errors import ReelrankError
from reelrank.types import Ratings

ML_100K = "ml-100k"
ENCODING_VERSION = 1  # of the parsers' output; part of every encoded cache key

Notify = Callable[[str], None]


def dataset_names() -> tuple[str, ...]:
    """Every data set `--dataset` accepts."""
    from reelrank.data.movielens.zips.datasets import DATASETS

    return (ML_100K, *DATASETS)


@dataclass(frozen=True)
class DataChoice:
    """Where the ratings come from: `dataset` by name (downloaded and cached, or read from the
    path `data`), or the user's own `ratings` file with its `columns` mapping and optional
    `movies` file. Paths are kept as the user wrote them."""

    dataset: str = ML_100K
    data: str | None = None
    ratings: str | None = None
    columns: str | None = None
    movies: str | None = None
    movie_columns: str | None = None
    on_bad_rows: str = "refuse"

    def __post_init__(self) -> None:
        bad_rows_policy(self.on_bad_rows)
        if self.ratings is None:
            if any(x is not None for x in (self.columns, self.movies, self.movie_columns)):
                raise ReelrankError(
                    "--columns, --movies and --movie-columns describe a --ratings FILE; give one"
                )
            if self.dataset not in dataset_names():
                raise ReelrankError(
                    f"unknown data set {self.dataset!r}; choose from {', '.join(dataset_names())}"
                    " or give your own ratings with --ratings FILE"
                )
        elif self.data is not None:
            raise ReelrankError(
                "give either --ratings FILE (your own data) or --data PATH, not both"
            )

    @property
    def name(self) -> str:
        """How the data is named in messages and artifacts."""
        return f"ratings file {self.ratings}" if self.ratings else self.dataset

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataChoice:
        known = {k: data[k] for k in cls.__dataclass_fields__ if isinstance(data.get(k), str)}
        return cls(**known)


def load_data(
    choice: DataChoice, *, cache_dir: str | Path | None = None, notify: Notify | None = None
) -> Ratings | Interactions:
    """The ratings `choice` names: MovieLens 100k as the wide `Ratings` table, anything else as
    `Interactions` (through the encoded cache)."""
    say = notify or _stderr
    bad_rows = cast(BadRows, choice.on_bad_rows)  # checked by DataChoice
    if choice.ratings is None and choice.dataset == ML_100K:
        from reelrank.data.movielens.ml100k.load import load_movielens_100k

        return load_movielens_100k(
            choice.data, cache_dir=cache_dir, notify=say, on_bad_rows=bad_rows
        )
    from reelrank.data.encoding.cache import cache_key, cached_or_parsed

    cache = resolve_cache_dir(cache_dir)
    source = {**choice.to_json(), **_signatures(choice), "encoding": ENCODING_VERSION}
    key = cache_key(**source)
    if choice.ratings is not None:
        return cached_or_parsed(cache, key, lambda: _read_own(choice, bad_rows, say), source, say)
    from reelrank.data.movielens.zips.datasets import load_grouplens_dataset

    def parse() -> Interactions:
        return load_grouplens_dataset(
            choice.dataset, choice.data, cache_dir=cache, notify=say, on_bad_rows=bad_rows
        )

    return cached_or_parsed(cache, key, parse, source, say)


def data_summary(
    choice: DataChoice, *, cache_dir: str | Path | None = None, notify: Notify | None = None
) -> dict[str, object]:
    """What `reelrank data info` shows: where the data is and its counts. Never downloads: a
    data set that is not cached yet is reported as such."""
    say = notify or _stderr
    if choice.ratings is None and choice.dataset == ML_100K:
        from reelrank.data.movielens.ml100k.load import dataset_info

        return dataset_info(choice.data, cache_dir=cache_dir)
    from reelrank.data.encoding.cache import cache_key, entry_dir, read_encoded

    cache = resolve_cache_dir(cache_dir)
    info: dict[str, object] = {"dataset": choice.name, "cache_dir": str(cache)}
    source = {**choice.to_json(), **_signatures(choice), "encoding": ENCODING_VERSION}
    key = cache_key(**source)
    found: Ratings | Interactions | None = read_encoded(cache, key, say)
    if found is None and (choice.data is not None or choice.ratings is not None):
        found = load_data(choice, cache_dir=cache, notify=say)  # local files: parse and cache
    if found is None:
        from reelrank.data.movielens.zips.datasets import dataset_spec

        spec = dataset_spec(choice.dataset)
        return {
            **info,
            "cached": False,
            "note": f"Nothing is cached yet: {spec.title} is downloaded from {spec.url} on "
            "first use (or pass --data PATH to read a copy you have).",
        }
    data = as_interactions(found)
    return {
        **info,
        "cached": entry_dir(cache, key).is_dir(),
        "path": str(entry_dir(cache, key)),
        "explicit": data.explicit,
        "timed": data.timed,
        **data.summary(),
    }


def _read_own(choice: DataChoice, bad_rows: BadRows, say: Notify) -> Interactions:
    from reelrank.data.tables.ratings_file import read_ratings_file

    assert choice.ratings is not None
    return read_ratings_file(
        Path(choice.ratings),
        choice.columns,
        movies=Path(choice.movies) if choice.movies else None,
        movie_columns=choice.movie_columns,
        on_bad_rows=bad_rows,
        notify=say,
    )


def _signatures(choice: DataChoice) -> dict[str, Any]:
    """What the files a choice reads look like now (resolved path, size, modification time):
    a changed file gets a new cache key, so a stale entry is never read."""
    out: dict[str, Any] = {}
    for field in ("data", "ratings", "movies"):
        value = getattr(choice, field)
        if value is None:
            continue
        path = Path(value).expanduser()
        if not path.exists():
            raise ReelrankError(f"--{field} {value}: no such file or folder")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        out[f"{field}_files"] = [
            (str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files
        ]
    return out


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
