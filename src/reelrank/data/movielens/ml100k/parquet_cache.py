"""The parsed cache: MovieLens 100k as `ml-100k.parquet` plus its manifest `ml-100k.json`.

Parsing the raw files takes a fraction of a second; reading the Parquet file is faster still and
needs no raw copy. The manifest records the format version, the raw file it was parsed from (with
that file's sha256), the Parquet file's own sha256 and the table's counts. It is written last, and
a Parquet file whose manifest is missing, of another version or whose digest does not match is
never trusted: it is removed and rebuilt.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from reelrank.data.fetch.sources import Fetched
from reelrank.files import atomic_path, atomic_write_text, sha256_file
from reelrank.types import GENRES, RATING_FEATURES, Ratings

DATASET = "movielens/100k-ratings"
FORMAT_VERSION = 1  # of the parsed cache; bump when its layout or the parsing changes
PARQUET_NAME = "ml-100k.parquet"
MANIFEST_NAME = "ml-100k.json"

# Dictionary-encoded in the Parquet file: few distinct values, many rows.
STRING_COLUMNS = (
    "user_id",
    "movie_id",
    "movie_title",
    "user_gender",
    "user_occupation_text",
    "user_zip_code",
)


def write_parsed_cache(cache: Path, ratings: Ratings, fetched: Fetched) -> None:
    """Write `ratings` (parsed from `fetched`) and its manifest into `cache`, each atomically."""
    # pyarrow is imported here, not at the top, so importing reelrank (for `--help`) stays fast.
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {}
    for name, column in ratings.columns().items():
        if name in STRING_COLUMNS:
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
        **ratings.summary(),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # The manifest is written last: a parquet without a matching manifest is never trusted.
    atomic_write_text(cache / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")


def read_manifest(cache: Path) -> dict[str, Any]:
    """The manifest of the parsed cache in `cache` (call after `read_parsed_cache` succeeded)."""
    manifest: dict[str, Any] = json.loads((cache / MANIFEST_NAME).read_text(encoding="utf-8"))
    return manifest


def read_parsed_cache(cache: Path, notify: Callable[[str], None]) -> Ratings | None:
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
    table = pq.read_table(parquet, read_dictionary=list(STRING_COLUMNS))
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
        if name in STRING_COLUMNS:
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
