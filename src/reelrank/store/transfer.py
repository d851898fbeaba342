"""Ratings into and out of a store as files: `import_ratings` takes what the `--ratings` readers
read (`Interactions`), `export_ratings` writes CSV or Parquet with the columns they recognise
(`userId`, `movieId`, `rating`, `timestamp`), so a store can be backed up, inspected and trained on.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from reelrank.data.interactions import Interactions
from reelrank.errors import ReelrankError
from reelrank.files import atomic_path
from reelrank.store.store import RatingStore, StoredRating

EXPORT_COLUMNS = ("userId", "movieId", "rating", "timestamp")
EXPORT_FORMATS = (".csv", ".parquet")


def import_ratings(store: RatingStore, data: Interactions) -> int:
    """Write every rating of `data` to `store` in one transaction; returns how many. Rows
    without a time are dated now; a table without ratings (views) is refused."""
    if not data.explicit:
        raise ReelrankError(
            "the file has no rating column: a store keeps ratings (map one with --columns "
            "rating=NAME)"
        )
    now = int(time.time())
    users = data.user_ids[data.user]
    movies = data.movies.movie_id[data.movie]
    times = data.timestamp if data.timed else np.full(len(data), now, dtype=np.int64)
    rows = [
        StoredRating(str(u), str(m), float(r), int(t))
        for u, m, r, t in zip(users, movies, data.rating, times, strict=True)
    ]
    return store.put_many(rows)


def export_ratings(store: RatingStore, out: str | Path) -> int:
    """Every stored rating to `out` (`.csv` or `.parquet`), written aside and renamed into place
    once complete; returns how many rows."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    path = Path(out)
    if path.suffix.lower() not in EXPORT_FORMATS:
        raise ReelrankError(f"--out must end in .csv or .parquet, got {path.name!r}")
    arrow_schema = pa.schema(
        [
            ("userId", pa.string()),
            ("movieId", pa.string()),
            ("rating", pa.float64()),
            ("timestamp", pa.int64()),
        ]
    )
    written = 0
    with atomic_path(path) as staging:
        writer: pa_csv.CSVWriter | pq.ParquetWriter = (
            pa_csv.CSVWriter(str(staging), arrow_schema)
            if path.suffix.lower() == ".csv"
            else pq.ParquetWriter(str(staging), arrow_schema)
        )
        with writer:
            for batch in store.all_ratings():
                table = pa.table(
                    {
                        "userId": [r.user_id for r in batch],
                        "movieId": [r.movie_id for r in batch],
                        "rating": [r.rating for r in batch],
                        "timestamp": [r.timestamp for r in batch],
                    },
                    schema=arrow_schema,
                )
                writer.write_table(table)
                written += len(batch)
            if written == 0:
                writer.write_table(arrow_schema.empty_table())
    return written
